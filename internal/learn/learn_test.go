package learn

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/llm"
)

func buckets(f Featurizer, text string) []uint32 {
	var out []uint32
	f.visit(text, func(b uint32) { out = append(out, b) })
	return out
}

func TestFeaturizer(t *testing.T) {
	f := DefaultFeaturizer
	tests := []struct {
		name   string
		a, b   string
		same   bool
		nFeats int // features of a, 0 to skip
	}{
		{name: "deterministic", a: "How many apples?", b: "How many apples?", same: true},
		{name: "case-insensitive", a: "How MANY Apples?", b: "how many apples?", same: true},
		{name: "whitespace does not matter", a: "how  many\n\tapples ?", b: "how many apples?", same: true},
		{name: "word order matters (bigrams)", a: "dog bites man", b: "man bites dog", same: false},
		{name: "numbers hashed by value and shape", a: "pay 120 now", b: "pay 450 now", same: false},
		// 3 words + 1 punct: 4 unigrams, 3 bigrams; the number adds its
		// raw feature beside its shape.
		{name: "counts", a: "pay 120 now!", nFeats: 4 + 3 + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := buckets(f, tc.a)
			if tc.nFeats > 0 {
				if len(a) != tc.nFeats {
					t.Fatalf("%d features, want %d", len(a), tc.nFeats)
				}
				return
			}
			b := buckets(f, tc.b)
			if slices.Equal(a, b) != tc.same {
				t.Fatalf("same=%v, want %v:\n%v\n%v", slices.Equal(a, b), tc.same, a, b)
			}
		})
	}
	// Shapes make two numbers of one length share a feature.
	s1, s2 := buckets(f, "x 120"), buckets(f, "x 450")
	shared := 0
	for _, b := range s1 {
		if slices.Contains(s2, b) {
			shared++
		}
	}
	if shared < 3 { // "x", the shape, and the bigram "x ###"
		t.Fatalf("numbers of one length share %d features, want 3", shared)
	}
}

func TestFeaturizerCharNgramsBounded(t *testing.T) {
	f := Featurizer{Bits: 16, CharMin: 3, CharMax: 4, CharPrefix: 10}
	short := buckets(f, "abcdefghij")
	long := buckets(f, "abcdefghij"+strings.Repeat("z", 1000))
	if !slices.Equal(short, long) {
		t.Fatal("char n-grams read past the prefix")
	}
	// 10 bytes: 8 trigrams and 7 four-grams.
	if len(short) != 15 {
		t.Fatalf("%d char n-grams, want 15", len(short))
	}
}

func TestFeaturizerValidate(t *testing.T) {
	bad := []Featurizer{
		{Bits: 4, Words: 1},
		{Bits: 30, Words: 1},
		{Bits: 16, Words: 4},
		{Bits: 16, Words: 1, CharMin: 3},
		{Bits: 16, Words: 1, Digits: 3},
	}
	for _, f := range bad {
		if f.validate() == nil {
			t.Errorf("%+v: accepted", f)
		}
	}
	if err := DefaultFeaturizer.validate(); err != nil {
		t.Fatal(err)
	}
}

func TestVisitDoesNotAllocate(t *testing.T) {
	f := DefaultFeaturizer
	text := strings.Repeat("The quick brown fox jumps over 13 lazy dogs, twice! ", 100)
	var sum uint32
	allocs := testing.AllocsPerRun(20, func() { f.visit(text, func(b uint32) { sum += b }) })
	if allocs != 0 {
		t.Fatalf("visit allocates %v times", allocs)
	}
}

func TestRequestExample(t *testing.T) {
	req := &llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "You are a router's worst nightmare."},
		{Role: llm.RoleUser, Content: "What is 7 * 6?"},
		{Role: llm.RoleAssistant, Content: "42"},
		{Role: llm.RoleUser, Content: "Explain step by step."},
	}}
	x := RequestExample(req, nil)
	if x.Text != "What is 7 * 6?\nExplain step by step." {
		t.Fatalf("text %q: want the user turns only", x.Text)
	}
	for name, want := range map[string]float64{"turns": 2, "math": 1, "multi_step": 1, "system": 1, "code": 0, "latin": 1} {
		if x.Numeric[name] != want {
			t.Errorf("%s = %v, want %v", name, x.Numeric[name], want)
		}
	}
	if len(x.Numeric) != len(RequestNumeric) {
		t.Fatalf("%d numeric features, RequestNumeric names %d", len(x.Numeric), len(RequestNumeric))
	}
	for _, name := range RequestNumeric {
		if _, ok := x.Numeric[name]; !ok {
			t.Fatalf("no %s", name)
		}
	}
	if y := RequestExample(req, features.Extract(req)); !maps.Equal(x.Numeric, y.Numeric) || x.Text != y.Text {
		t.Fatal("RequestExample differs with the features given")
	}
	if tx := TextExample(req); tx.Text != x.Text || tx.Numeric != nil {
		t.Fatalf("TextExample %+v", tx)
	}
	if e := RequestExample(nil, nil); e.Text != "" || e.Numeric["turns"] != 0 {
		t.Fatalf("nil request: %+v", e)
	}
}

func TestFold(t *testing.T) {
	counts := make([]int, 5)
	for i := range 5000 {
		id := fmt.Sprintf("mmlu/x/%04d", i)
		k := Fold(id, 5)
		if k != Fold(id, 5) || k != FoldSeed(id, 5, 0) {
			t.Fatal("fold is not stable")
		}
		counts[k]++
	}
	for k, c := range counts {
		if c < 900 || c > 1100 {
			t.Fatalf("fold %d has %d of 5000 ids", k, c)
		}
	}
	// A pinned value: the assignment must never change between versions,
	// or shipped model files would score records with the wrong fold.
	if got := Fold("gsm8k/0001", 5); got != pinnedFold {
		t.Fatalf("Fold(gsm8k/0001, 5) = %d, want %d", got, pinnedFold)
	}
	diff := 0
	for i := range 1000 {
		id := fmt.Sprint(i)
		if FoldSeed(id, 5, 1) != Fold(id, 5) {
			diff++
		}
	}
	if diff < 700 {
		t.Fatalf("seed 1 moves only %d of 1000 ids", diff)
	}
}

const pinnedFold = 4

// toy is a separable winrate set: "easy" prompts are good for the weak
// model, "hard" ones only for the strong model.
func toy(n int, seed uint64) []Sample {
	r := rand.New(rand.NewPCG(seed, 1))
	easy := []string{"say hello", "greet the user", "translate cat", "spell dog", "name a color"}
	hard := []string{"prove the theorem", "derive the integral", "optimize the compiler", "solve the equation system", "refactor the kernel"}
	var out []Sample
	for i := range n {
		h := r.IntN(2) == 1
		words := easy
		if h {
			words = hard
		}
		text := fmt.Sprintf("%s %s #%d", words[r.IntN(len(words))], words[r.IntN(len(words))], i)
		out = append(out, Sample{
			ID:   fmt.Sprintf("toy/%d/%d", seed, i),
			X:    Example{Text: text, Numeric: map[string]float64{"len": float64(len(text))}},
			Good: map[string]bool{"weak": !h, "strong": true},
		})
		if h { // the strong model fails now and then: not a constant
			out[len(out)-1].Good["strong"] = r.IntN(10) > 0
		}
	}
	return out
}

func TestTrainLearnsSeparableSet(t *testing.T) {
	train, test := toy(400, 1), toy(200, 2)
	m, rep, err := Train(KindWinrate, train, TrainOptions{Labels: []string{"weak", "strong"}, Valid: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Labels(), []string{"weak", "strong"}) || m.Kind() != KindWinrate || m.Input() != InputText {
		t.Fatalf("model: %s %v %s", m.Kind(), m.Labels(), m.Input())
	}
	hits := 0
	for i := range test {
		p := m.Predict(context.Background(), &test[i].X)
		if len(p) != 2 {
			t.Fatalf("%d predictions", len(p))
		}
		if (p[0] > 0.5) == test[i].Good["weak"] {
			hits++
		}
	}
	if acc := float64(hits) / float64(len(test)); acc < 0.99 {
		t.Fatalf("test accuracy %.3f on a separable set", acc)
	}
	if rep.Validation == nil || rep.Validation.PerLabel["weak"].Accuracy < 0.95 {
		t.Fatalf("validation: %+v", rep.Validation)
	}
	if rep.CrossFit.PerLabel["weak"].AUC < 0.99 {
		t.Fatalf("cross-fitted AUC %.3f", rep.CrossFit.PerLabel["weak"].AUC)
	}
	if len(rep.OOF) != len(train) || m.Folds() != 5 {
		t.Fatalf("%d OOF predictions, %d folds", len(rep.OOF), m.Folds())
	}
	info := m.Info()
	if info.Data.Samples != 400 || info.Data.Labels["weak"].Known != 400 || info.Validation == nil {
		t.Fatalf("info: %+v", info)
	}
}

func TestTrainClassifier(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	topics := map[string][]string{
		"math": {"integral", "equation", "matrix"},
		"code": {"python", "compile", "function"},
		"chat": {"hello", "weather", "movie"},
	}
	var samples []Sample
	for i := range 600 {
		label := []string{"math", "code", "chat"}[i%3]
		w := topics[label]
		samples = append(samples, Sample{ID: fmt.Sprint(i), Label: label,
			X: Example{Text: fmt.Sprintf("%s please %s (%d)", w[r.IntN(3)], w[r.IntN(3)], i)}})
	}
	m, rep, err := Train(KindClassifier, samples, TrainOptions{Valid: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Labels(), []string{"chat", "code", "math"}) {
		t.Fatalf("labels %v", m.Labels())
	}
	p := m.Predict(context.Background(), &Example{Text: "solve this equation"})
	sum := 0.0
	for _, v := range p {
		sum += v
	}
	if math.Abs(sum-1) > 1e-9 || p[2] < 0.8 {
		t.Fatalf("prediction %v (sum %v)", p, sum)
	}
	if rep.Validation.Accuracy < 0.99 {
		t.Fatalf("validation accuracy %.3f", rep.Validation.Accuracy)
	}
}

func TestTrainErrors(t *testing.T) {
	good := toy(50, 1)
	tests := []struct {
		name    string
		kind    string
		samples []Sample
		opts    TrainOptions
		want    string
	}{
		{"unknown kind", "bogus", good, TrainOptions{}, "unknown model kind"},
		{"no samples", KindWinrate, nil, TrainOptions{}, "no samples"},
		{"no id", KindWinrate, []Sample{{X: Example{Text: "x"}, Good: map[string]bool{"a": true}}}, TrainOptions{}, "has no id"},
		{"one class", KindClassifier, []Sample{{ID: "1", Label: "a"}, {ID: "2", Label: "a"}}, TrainOptions{}, "at least two classes"},
		{"label not given", KindWinrate, good, TrainOptions{Labels: []string{"weak"}}, "not among the labels"},
		{"folds", KindWinrate, good, TrainOptions{Folds: 1}, "folds 1"},
		{"valid", KindWinrate, good, TrainOptions{Valid: 1}, "validation share"},
		{"l2", KindWinrate, good, TrainOptions{L2: []float64{-1}}, "must be positive"},
		{"calibration", KindWinrate, good, TrainOptions{Calibration: "magic"}, "unknown calibration"},
		{"vectors", KindWinrate, []Sample{{ID: "1", X: Example{Vector: []float32{1}}, Good: map[string]bool{"a": true}}, {ID: "2", Good: map[string]bool{"a": true}}}, TrainOptions{}, "vector of length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Train(tc.kind, tc.samples, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTrainCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Train(KindWinrate, toy(100, 1), TrainOptions{Context: ctx}); err != context.Canceled {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestCalibration(t *testing.T) {
	// Outcomes drawn with P = sigmoid(2z - 1): Platt recovers a≈2, b≈-1.
	r := rand.New(rand.NewPCG(5, 5))
	var z, y []float64
	for range 20000 {
		v := r.NormFloat64()
		z = append(z, v)
		y = append(y, b2f(r.Float64() < sigmoid(2*v-1)))
	}
	c := fitPlatt(z, y)
	if math.Abs(c.A-2) > 0.15 || math.Abs(c.B+1) > 0.1 {
		t.Fatalf("platt a=%.3f b=%.3f, want 2, -1", c.A, c.B)
	}
	p := make([]float64, len(z))
	for i := range z {
		p[i] = c.apply(z[i])
	}
	if m := binaryMetrics(p, y); m.ECE > 0.02 {
		t.Fatalf("ECE %.4f after Platt scaling", m.ECE)
	}
	iso := fitIsotonic(z, y)
	if err := iso.validate(KindWinrate); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(iso.Y); i++ {
		if iso.Y[i] < iso.Y[i-1] {
			t.Fatal("isotonic map decreases")
		}
	}
	for i := range z {
		p[i] = iso.apply(z[i])
	}
	if m := binaryMetrics(p, y); m.ECE > 0.02 {
		t.Fatalf("ECE %.4f after isotonic calibration", m.ECE)
	}
	// Temperature: logits scaled by 3 are over-confident; the fitted
	// temperature undoes it.
	var zs [][]float64
	var cls []int
	for range 5000 {
		l := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		p := slices.Clone(l)
		softmax(p, 1)
		u, c := r.Float64(), 0
		for c < 2 && u > p[c] {
			u -= p[c]
			c++
		}
		zs = append(zs, []float64{3 * l[0], 3 * l[1], 3 * l[2]})
		cls = append(cls, c)
	}
	if tc := fitTemperature(zs, cls); math.Abs(tc.A-1.0/3) > 0.05 {
		t.Fatalf("temperature %.3f, want 1/3", tc.A)
	}
}

func TestMetrics(t *testing.T) {
	m := binaryMetrics([]float64{0.9, 0.8, 0.3, 0.1}, []float64{1, 1, 0, 1})
	if m.Accuracy != 0.75 || m.N != 4 {
		t.Fatalf("accuracy %v", m.Accuracy)
	}
	if want := (0.01 + 0.04 + 0.09 + 0.81) / 4; math.Abs(m.Brier-want) > 1e-12 {
		t.Fatalf("brier %v, want %v", m.Brier, want)
	}
	if want := 2.0 / 3; math.Abs(m.AUC-want) > 1e-12 {
		t.Fatalf("auc %v, want %v", m.AUC, want)
	}
	cm := classMetrics([][]float64{{0.7, 0.3}, {0.4, 0.6}}, []int{0, 0})
	if cm.Accuracy != 0.5 || math.Abs(cm.LogLoss-(-math.Log(0.7)-math.Log(0.4))/2) > 1e-12 {
		t.Fatalf("class metrics %+v", cm)
	}
}

func TestCurve(t *testing.T) {
	strong := []float64{1, 1, 1, 1}
	weak := []float64{0, 0, 1, 1}
	// A perfect score routes the two gains first.
	c := NewCurve([]float64{0.1, 0.2, 0.8, 0.9}, strong, weak)
	if p := c.PGRAt(0.5); p != 1 {
		t.Fatalf("PGR(0.5) = %v", p)
	}
	if got := c.CPT(0.5); math.Abs(got-0.25) > 1e-12 {
		t.Fatalf("CPT(50%%) = %v", got)
	}
	// All tied: the random router's straight line, APGR 0.5.
	tied := NewCurve([]float64{1, 1, 1, 1}, strong, weak)
	if a := tied.APGR(); math.Abs(a-0.5) > 1e-12 {
		t.Fatalf("tied APGR %v", a)
	}
	if a := NewCurve([]float64{0.9, 0.8, 0.2, 0.1}, strong, weak).APGR(); a >= 0.5 {
		t.Fatalf("inverted score has APGR %v", a)
	}
}

func trained(t *testing.T) (*Model, []Sample, *Report) {
	t.Helper()
	samples := toy(300, 7)
	m, rep, err := Train(KindWinrate, samples, TrainOptions{Labels: []string{"weak", "strong"}, L2: []float64{1e-2}})
	if err != nil {
		t.Fatal(err)
	}
	return m, samples, rep
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m, samples, _ := trained(t)
	dir := t.TempDir()
	for _, name := range []string{"m.json", "m.json.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind() != m.Kind() || !slices.Equal(got.Labels(), m.Labels()) || got.Folds() != m.Folds() || got.Info().L2 != m.Info().L2 {
				t.Fatalf("loaded %s %v folds=%d", got.Kind(), got.Labels(), got.Folds())
			}
			for i := range 20 {
				for _, ctx := range []context.Context{context.Background(), WithRecord(context.Background(), samples[i].ID)} {
					a, b := m.Predict(ctx, &samples[i].X), got.Predict(ctx, &samples[i].X)
					for l := range a {
						if math.Abs(a[l]-b[l]) > 1e-3 {
							t.Fatalf("sample %d label %d: %v before saving, %v after", i, l, a[l], b[l])
						}
					}
				}
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	m, _, _ := trained(t)
	data, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name string
		edit func(s string) string
		want string
	}{
		{"newer version", func(s string) string { return strings.Replace(s, `"version": 1,`, `"version": 2,`, 1) }, "version 2 is not supported: this build reads version 1"},
		{"not a model", func(string) string { return `{"hello": 1}` }, "not a model file"},
		{"not json", func(string) string { return `garbage` }, "not a model file"},
		{"bad kind", func(s string) string { return strings.Replace(s, `"kind": "winrate"`, `"kind": "oracle"`, 1) }, `kind "oracle"`},
		{"unknown field", func(s string) string {
			return strings.Replace(s, `"kind": "winrate"`, `"kind": "winrate", "extra": 1`, 1)
		}, "unknown field"},
		{"bad weights", func(s string) string { return strings.Replace(s, `"full": "`, `"full": "AAAA`, 1) }, "weights.full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".json")
			if err := os.WriteFile(path, []byte(tc.edit(string(data))), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want %q naming the path", err, tc.want)
			}
		})
	}
	if _, err := Load("builtin:nope"); err == nil || !strings.Contains(err.Error(), "no built-in model") {
		t.Fatalf("builtin:nope: %v", err)
	}
}

func TestPredictUsesFoldModelOfRecord(t *testing.T) {
	m, samples, rep := trained(t)
	ctx := context.Background()
	differ := 0
	for i := range samples {
		id := samples[i].ID
		oof := m.Predict(WithRecord(ctx, id), &samples[i].X)
		// The fold model of the record answers: its prediction is the
		// record's out-of-fold prediction from training.
		for l := range oof {
			if math.Abs(oof[l]-rep.OOF[i][l]) > 1e-4 {
				t.Fatalf("sample %d: Predict with its record id %v, out-of-fold %v", i, oof, rep.OOF[i])
			}
		}
		want := m.predictWith(m.folds[Fold(id, 5)], &samples[i].X)
		if !slices.Equal(oof, want) {
			t.Fatalf("sample %d: not fold %d's prediction", i, Fold(id, 5))
		}
		if full := m.Predict(ctx, &samples[i].X); !slices.Equal(full, oof) {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("fold models predict exactly like the full model")
	}
	// Without fold models a record id changes nothing.
	nf := m.WithoutFolds()
	if a, b := nf.Predict(WithRecord(ctx, samples[0].ID), &samples[0].X), m.Predict(ctx, &samples[0].X); !slices.Equal(a, b) {
		t.Fatalf("without folds: %v vs %v", a, b)
	}
	if _, ok := RecordFrom(WithRecord(ctx, "")); ok {
		t.Fatal("an empty record id counts")
	}
}

func TestPredictRobustToOddInput(t *testing.T) {
	m, _, _ := trained(t)
	for _, x := range []*Example{
		{},
		{Text: strings.Repeat("\xff\xfe", 100)},
		{Text: "x", Numeric: map[string]float64{"len": math.NaN()}},
		{Text: "x", Numeric: map[string]float64{"len": math.Inf(1)}},
		{Vector: []float32{1, 2, 3}},
	} {
		for _, p := range m.Predict(context.Background(), x) {
			if !(p > 0 && p < 1) {
				t.Fatalf("%+v: prediction %v", x, p)
			}
		}
	}
}

func TestEmbeddingModel(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var samples []Sample
	for i := range 300 {
		v := make([]float32, 8)
		for k := range v {
			v[k] = float32(r.NormFloat64())
		}
		samples = append(samples, Sample{ID: fmt.Sprint(i), X: Example{Text: fmt.Sprint("t", i), Vector: v}, Good: map[string]bool{"accept": v[0] > 0}})
	}
	m, rep, err := Train(KindGate, samples, TrainOptions{EmbeddingModel: "emb"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Input() != InputEmbedding || m.EmbeddingModel() != "emb" || m.Dim() != 8 || !slices.Equal(m.Labels(), []string{"accept"}) {
		t.Fatalf("model %s %s %d %v", m.Input(), m.EmbeddingModel(), m.Dim(), m.Labels())
	}
	if rep.CrossFit.AUC < 0.98 {
		t.Fatalf("AUC %.3f", rep.CrossFit.AUC)
	}
	path := filepath.Join(t.TempDir(), "gate.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p := got.Predict(context.Background(), &samples[0].X)
	q := m.Predict(context.Background(), &samples[0].X)
	if math.Abs(p[0]-q[0]) > 1e-3 {
		t.Fatalf("%v after loading, %v before", p, q)
	}
}

func TestBuiltins(t *testing.T) {
	for _, name := range []string{"winrate", "classifier"} {
		m, err := Load(BuiltinPrefix + name)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind() != name {
			t.Fatalf("builtin:%s is a %s model", name, m.Kind())
		}
		want := []string{"mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"}
		if !slices.Equal(m.Labels(), want) {
			t.Fatalf("builtin:%s labels %v, want %v", name, m.Labels(), want)
		}
		data, _ := builtinFS.ReadFile("builtin/" + name + ".json")
		if len(data) > 1536<<10 {
			t.Fatalf("builtin:%s is %d bytes", name, len(data))
		}
	}
}

func TestDecodeGzip(t *testing.T) {
	m, _, _ := trained(t)
	data, _ := m.Encode()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	if _, err := Decode(b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func TestWinRate(t *testing.T) {
	tests := []struct {
		in, want []float64
	}{
		{[]float64{0.6, 0.9}, []float64{(1 + 0.6 - 0.9) / 2, (1 + 0.9 - 0.6) / 2}},
		{[]float64{1, 0}, []float64{1, 0}},
		{[]float64{0.3, 0.3}, []float64{0.5, 0.5}},
		{[]float64{0.2, 0.5, 0.9}, []float64{0.15, 0.3, 0.7}},
		{[]float64{0.4}, []float64{0.4}},
	}
	for _, tc := range tests {
		got := slices.Clone(tc.in)
		winRate(got)
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-12 {
				t.Fatalf("winRate(%v) = %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

func TestOutputWinRate(t *testing.T) {
	samples := toy(300, 11)
	m, rep, err := Train(KindWinrate, samples, TrainOptions{Labels: []string{"weak", "strong"}, Output: OutputWinRate})
	if err != nil {
		t.Fatal(err)
	}
	if m.Info().Output != OutputWinRate {
		t.Fatalf("output %q", m.Info().Output)
	}
	x := &samples[0].X
	heads := make([]float64, 2)
	m.logits(m.full, x, heads)
	m.heads(heads)
	p := m.Predict(context.Background(), x)
	if want := (1 + heads[0] - heads[1]) / 2; math.Abs(p[0]-want) > 1e-12 {
		t.Fatalf("weak win rate %v, want %v from heads %v", p[0], want, heads)
	}
	// The report's out-of-fold predictions are outputs, as Predict gives
	// them under cross-fitting.
	for i := range samples {
		q := m.Predict(WithRecord(context.Background(), samples[i].ID), &samples[i].X)
		if math.Abs(q[0]-rep.OOF[i][0]) > 1e-4 || math.Abs(q[1]-rep.OOF[i][1]) > 1e-4 {
			t.Fatalf("sample %d: OOF %v, Predict %v", i, rep.OOF[i], q)
		}
	}
	path := filepath.Join(t.TempDir(), "b.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if q := got.Predict(context.Background(), x); math.Abs(q[0]-p[0]) > 1e-3 {
		t.Fatalf("after loading %v, before %v", q, p)
	}
	if _, _, err := Train(KindGate, samples, TrainOptions{Output: OutputWinRate}); err == nil {
		t.Fatal("win_rate output accepted for a gate")
	}
}

func TestPredictConcurrent(t *testing.T) {
	m, samples, _ := trained(t)
	want := make([][]float64, len(samples))
	for i := range samples {
		want[i] = m.Predict(WithRecord(context.Background(), samples[i].ID), &samples[i].X)
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			for i := g; i < len(samples); i += 4 {
				got := m.Predict(WithRecord(context.Background(), samples[i].ID), &samples[i].X)
				if !slices.Equal(got, want[i]) {
					done <- fmt.Errorf("sample %d: %v, then %v", i, want[i], got)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
