//go:build experiment

// The offline experiment harness: K-fold cross-fitting of winrate models
// on ../shared/data, measured as the APGR, CPT(50%) and CPT(80%) of the
// router "strong when P(weak good) < t" (README.md of the data). It is
// behind the "experiment" build tag so CI never runs it:
//
//	go test -tags experiment -run TestExperiment -v -timeout 2h ./internal/learn \
//	  [-exp.data DIR] [-exp.variants NAME,NAME] [-exp.repeats N]
//
// Every record's score is the prediction of a fold model that never saw
// it (nor any record with the same prompt), exactly what `sextant eval`
// gets from a model file's fold models. MT Bench (56 records) is
// measured with leave-one-out and repeated 5-fold runs.
package learn_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/learn/trainset"
)

var (
	expData     = flag.String("exp.data", "../../../shared/data", "directory of the recorded data sets")
	expVariants = flag.String("exp.variants", "", "comma-separated variants to run (default: all)")
	expRepeats  = flag.Int("exp.repeats", 3, "fold assignments (seeds) to average over")
	expMatch    = flag.String("exp.match", "", "run only the variants whose name contains this")
	expSets     = flag.String("exp.sets", "gsm8k,mmlu,mt_bench", "data sets to run on")
)

const (
	strongModel = "gpt-4-1106-preview"
	weakModel   = "mistralai/Mixtral-8x7B-Instruct-v0.1"
)

// expSet is one data set's records and samples.
type expSet struct {
	name    string
	recs    []dataset.Record
	samples []learn.Sample // LabelBest
	correct []learn.Sample // LabelCorrect
	strong  []float64
	weak    []float64
}

func loadSets(t *testing.T) []*expSet {
	var sets []*expSet
	for _, name := range strings.Split(*expSets, ",") {
		path := filepath.Join(*expData, name+".jsonl")
		recs, err := dataset.LoadFile(path)
		if err != nil {
			t.Skipf("no data: %v", err)
		}
		set, err := trainset.Read(context.Background(), path, learn.KindWinrate, trainset.Options{Label: trainset.LabelBest})
		if err != nil {
			t.Fatal(err)
		}
		cset, err := trainset.Read(context.Background(), path, learn.KindWinrate, trainset.Options{Label: trainset.LabelCorrect})
		if err != nil {
			t.Fatal(err)
		}
		s := &expSet{name: name, recs: recs, samples: set.Samples, correct: cset.Samples}
		for i := range recs {
			s.strong = append(s.strong, *recs[i].Models[strongModel].Quality)
			s.weak = append(s.weak, *recs[i].Models[weakModel].Quality)
		}
		sets = append(sets, s)
	}
	return sets
}

// variant is one way of training: options and whether to pool the data
// sets.
type variant struct {
	name   string
	opts   learn.TrainOptions
	pooled bool
	// numeric false drops the numeric features.
	numeric bool
	// correct trains on LabelCorrect outcomes (default LabelBest).
	correct bool
	// score turns a record's OOF prediction into the router's score
	// (default: P(weak good)).
	score func(p []float64, labels []string) float64
}

func pWeak(p []float64, labels []string) float64 { return p[slices.Index(labels, weakModel)] }

func pDiff(p []float64, labels []string) float64 {
	return p[slices.Index(labels, weakModel)] - p[slices.Index(labels, strongModel)]
}

// pIndep is P(weak at least as good as strong) from P(correct) of each,
// taking them as independent: 1 - P(strong right)·P(weak wrong).
func pIndep(p []float64, labels []string) float64 {
	w, s := p[slices.Index(labels, weakModel)], p[slices.Index(labels, strongModel)]
	return 1 - s*(1-w)
}

func variants() []variant {
	base := learn.TrainOptions{Labels: []string{weakModel, strongModel}, L2: []float64{1e-3}}
	with := func(f func(o *learn.TrainOptions)) learn.TrainOptions {
		o := base
		f(&o)
		return o
	}
	uni := learn.Featurizer{Bits: 18, Words: 1, Punct: true, Digits: learn.DigitsBoth}
	bi := learn.Featurizer{Bits: 18, Words: 2, Punct: true, Digits: learn.DigitsBoth}
	tri := learn.Featurizer{Bits: 18, Words: 3, Punct: true, Digits: learn.DigitsBoth}
	var vs []variant
	// Labels "as good as the best answer", one head each (the first
	// rounds; see the package doc for their table).
	for _, l2 := range []float64{1e-3, 3e-3} {
		vs = append(vs,
			variant{name: fmt.Sprintf("best bi l2=%g", l2), opts: with(func(o *learn.TrainOptions) { o.Featurizer = bi; o.L2 = []float64{l2} })},
			variant{name: fmt.Sprintf("best bi+num l2=%g", l2), numeric: true, opts: with(func(o *learn.TrainOptions) { o.Featurizer = bi; o.L2 = []float64{l2} })},
		)
	}
	vs = append(vs,
		variant{name: "best bi+num mix=0.8 l2=3e-05", numeric: true, opts: with(func(o *learn.TrainOptions) { o.Featurizer = bi; o.L2 = []float64{3e-5}; o.CategoryMix = 0.8 })},
		variant{name: "best pooled bi+num mix=0.8 l2=3e-3", numeric: true, pooled: true, opts: with(func(o *learn.TrainOptions) { o.Featurizer = bi; o.L2 = []float64{3e-3}; o.CategoryMix = 0.8 })},
	)
	// P(correct) heads with the best-of output (binary data only).
	for _, l2 := range []float64{1e-3, 3e-3, 1e-2} {
		vs = append(vs,
			variant{name: fmt.Sprintf("winrate bi l2=%g", l2), correct: true, opts: with(func(o *learn.TrainOptions) { o.Featurizer = bi; o.L2 = []float64{l2}; o.Output = learn.OutputWinRate })},
			variant{name: fmt.Sprintf("winrate bi+num l2=%g", l2), correct: true, numeric: true, opts: with(func(o *learn.TrainOptions) { o.Featurizer = bi; o.L2 = []float64{l2}; o.Output = learn.OutputWinRate })},
		)
	}
	vs = append(vs,
		variant{name: "winrate uni l2=3e-3", correct: true, opts: with(func(o *learn.TrainOptions) {
			o.Featurizer = uni
			o.L2 = []float64{3e-3}
			o.Output = learn.OutputWinRate
		})},
		variant{name: "winrate tri l2=3e-3", correct: true, opts: with(func(o *learn.TrainOptions) {
			o.Featurizer = tri
			o.L2 = []float64{3e-3}
			o.Output = learn.OutputWinRate
		})},
		variant{name: "winrate bi auto-l2", correct: true, opts: with(func(o *learn.TrainOptions) { o.Featurizer = bi; o.L2 = learn.DefaultL2; o.Output = learn.OutputWinRate })},
		variant{name: "winrate bi isotonic l2=3e-3", correct: true, opts: with(func(o *learn.TrainOptions) {
			o.Featurizer = bi
			o.L2 = []float64{3e-3}
			o.Output = learn.OutputWinRate
			o.Calibration = learn.CalibIsotonic
		})},
	)
	for _, l2 := range []float64{1e-3, 3e-3} {
		vs = append(vs,
			variant{name: fmt.Sprintf("winrate bi+num mix=0.5 l2=%g", l2), correct: true, numeric: true, opts: with(func(o *learn.TrainOptions) {
				o.Featurizer = bi
				o.L2 = []float64{l2}
				o.CategoryMix = 0.5
				o.Output = learn.OutputWinRate
			})},
			variant{name: fmt.Sprintf("winrate bi mix=0.5 l2=%g", l2), correct: true, opts: with(func(o *learn.TrainOptions) {
				o.Featurizer = bi
				o.L2 = []float64{l2}
				o.CategoryMix = 0.5
				o.Output = learn.OutputWinRate
			})},
		)
	}
	for _, l2 := range []float64{3e-5, 1e-4} {
		vs = append(vs,
			variant{name: fmt.Sprintf("winrate bi+num mix=0.8 l2=%g", l2), correct: true, numeric: true, opts: with(func(o *learn.TrainOptions) {
				o.Featurizer = bi
				o.L2 = []float64{l2}
				o.CategoryMix = 0.8
				o.Output = learn.OutputWinRate
			})},
			variant{name: fmt.Sprintf("winrate bi mix=0.8 l2=%g", l2), correct: true, opts: with(func(o *learn.TrainOptions) {
				o.Featurizer = bi
				o.L2 = []float64{l2}
				o.CategoryMix = 0.8
				o.Output = learn.OutputWinRate
			})},
		)
	}
	vs = append(vs, variant{name: "winrate bi+num mix=0.95 l2=3e-05", correct: true, numeric: true, opts: with(func(o *learn.TrainOptions) {
		o.Featurizer = bi
		o.L2 = []float64{3e-5}
		o.CategoryMix = 0.95
		o.Output = learn.OutputWinRate
	})})
	return vs
}

// result is one data set's metrics under one variant, on all records and
// on the decontaminated ones.
type result struct {
	apgr, cpt50, cpt80    float64
	apgrD, cpt50D, cpt80D float64
	logloss, auc          float64
}

func curveOf(s *expSet, score []float64, decon bool) *learn.Curve {
	var sc, st, wk []float64
	for i := range s.recs {
		if decon && s.recs[i].Contaminated {
			continue
		}
		sc, st, wk = append(sc, score[i]), append(st, s.strong[i]), append(wk, s.weak[i])
	}
	return learn.NewCurve(sc, st, wk)
}

func measureScores(s *expSet, score []float64) result {
	c, d := curveOf(s, score, false), curveOf(s, score, true)
	return result{apgr: c.APGR(), cpt50: c.CPT(0.5), cpt80: c.CPT(0.8), apgrD: d.APGR(), cpt50D: d.CPT(0.5), cpt80D: d.CPT(0.8)}
}

func average(rs []result) result {
	var a result
	for _, r := range rs {
		a.apgr += r.apgr
		a.cpt50 += r.cpt50
		a.cpt80 += r.cpt80
		a.apgrD += r.apgrD
		a.cpt50D += r.cpt50D
		a.cpt80D += r.cpt80D
		a.logloss += r.logloss
		a.auc += r.auc
	}
	n := float64(len(rs))
	return result{a.apgr / n, a.cpt50 / n, a.cpt80 / n, a.apgrD / n, a.cpt50D / n, a.cpt80D / n, a.logloss / n, a.auc / n}
}

func (s *expSet) pick(correct bool) []learn.Sample {
	if correct {
		return s.correct
	}
	return s.samples
}

func stripNumeric(in []learn.Sample) []learn.Sample {
	out := slices.Clone(in)
	for i := range out {
		out[i].X.Numeric = nil
	}
	return out
}

// runVariant returns one result per data set.
func runVariant(t *testing.T, sets []*expSet, v variant) []result {
	score := v.score
	if score == nil {
		score = pWeak
	}
	out := make([]result, len(sets))
	perSet := make([][]result, len(sets))
	for rep := 0; rep < *expRepeats; rep++ {
		o := v.opts
		o.Seed = uint64(rep)
		if v.pooled {
			var all []learn.Sample
			for _, s := range sets {
				all = append(all, s.pick(v.correct)...)
			}
			if !v.numeric {
				all = stripNumeric(all)
			}
			_, r, err := learn.Train(learn.KindWinrate, all, o)
			if err != nil {
				t.Fatal(err)
			}
			off := 0
			for j, s := range sets {
				sc := make([]float64, len(s.samples))
				for i := range sc {
					sc[i] = score(r.OOF[off+i], o.Labels)
				}
				off += len(s.samples)
				res := measureScores(s, sc)
				res.logloss = r.CrossFit.LogLoss
				perSet[j] = append(perSet[j], res)
			}
			continue
		}
		for j, s := range sets {
			if v.opts.Output == learn.OutputWinRate && s.name == "mt_bench" {
				// Scored data has no P(correct) heads to combine.
				perSet[j] = append(perSet[j], result{apgr: math.NaN(), cpt50: math.NaN(), cpt80: math.NaN(), apgrD: math.NaN()})
				continue
			}
			samples := s.pick(v.correct)
			if !v.numeric {
				samples = stripNumeric(samples)
			}
			oo := o
			if s.name == "mt_bench" && rep == 0 {
				oo.Folds = len(samples) // about leave-one-out (hashed folds)
			}
			m, r, err := learn.Train(learn.KindWinrate, samples, oo)
			if err != nil {
				t.Fatal(err)
			}
			sc := make([]float64, len(samples))
			for i := range sc {
				sc[i] = score(r.OOF[i], o.Labels)
			}
			// The out-of-fold predictions must be what Predict gives
			// the record under cross-fitting.
			if rep == 0 {
				for i := 0; i < len(samples); i += 97 {
					p := m.Predict(learn.WithRecord(context.Background(), samples[i].ID), &samples[i].X)
					if math.Abs(p[0]-r.OOF[i][0]) > 1e-3 {
						t.Fatalf("%s: Predict %v, OOF %v", samples[i].ID, p, r.OOF[i])
					}
				}
			}
			res := measureScores(s, sc)
			res.logloss = r.CrossFit.PerLabel[weakModel].LogLoss
			res.auc = r.CrossFit.PerLabel[weakModel].AUC
			perSet[j] = append(perSet[j], res)
		}
	}
	for j := range sets {
		out[j] = average(perSet[j])
	}
	return out
}

// categoryPrior is the floor of the issue: P(weak good) is the weak
// model's success rate on the record's category in the other folds.
func categoryPrior(s *expSet, seed uint64) []float64 {
	const K = 5
	score := make([]float64, len(s.recs))
	for i := range s.recs {
		k := learn.FoldSeed(s.recs[i].ID, K, seed)
		var good, n float64
		for j := range s.recs {
			if learn.FoldSeed(s.recs[j].ID, K, seed) != k && s.recs[j].Category == s.recs[i].Category {
				n++
				if s.samples[j].Good[weakModel] {
					good++
				}
			}
		}
		score[i] = (good + 1) / (n + 2)
	}
	return score
}

// categoryPriorAligned is categoryPrior with each fold's scores shifted
// (in log-odds) to a common mean, as Train aligns its fold models.
func categoryPriorAligned(s *expSet, seed uint64) []float64 {
	const K = 5
	score := categoryPrior(s, seed)
	logit := func(p float64) float64 { return math.Log(p / (1 - p)) }
	// Each fold's prior table scored on all records.
	means := make([]float64, K)
	for k := 0; k < K; k++ {
		rate := map[string][2]float64{}
		for j := range s.recs {
			if learn.FoldSeed(s.recs[j].ID, K, seed) != k {
				r := rate[s.recs[j].Category]
				r[1]++
				if s.samples[j].Good[weakModel] {
					r[0]++
				}
				rate[s.recs[j].Category] = r
			}
		}
		for j := range s.recs {
			r := rate[s.recs[j].Category]
			means[k] += logit((r[0]+1)/(r[1]+2)) / float64(len(s.recs))
		}
	}
	target := 0.0
	for _, m := range means {
		target += m / K
	}
	for i := range s.recs {
		k := learn.FoldSeed(s.recs[i].ID, K, seed)
		score[i] = logit(score[i]) + target - means[k]
	}
	return score
}

// splitPrior is the category prior learned on one half (by id hash) and
// measured on the other half.
func splitPrior(s *expSet, seed uint64) result {
	rate := map[string][2]float64{}
	var test *expSet = &expSet{name: s.name}
	for j := range s.recs {
		if learn.FoldSeed(s.recs[j].ID, 2, seed) == 0 {
			r := rate[s.recs[j].Category]
			r[1]++
			if s.samples[j].Good[weakModel] {
				r[0]++
			}
			rate[s.recs[j].Category] = r
			continue
		}
		test.recs = append(test.recs, s.recs[j])
		test.strong = append(test.strong, s.strong[j])
		test.weak = append(test.weak, s.weak[j])
	}
	score := make([]float64, len(test.recs))
	for i := range test.recs {
		r := rate[test.recs[i].Category]
		score[i] = (r[0] + 1) / (r[1] + 2)
	}
	return measureScores(test, score)
}

func TestExperiment(t *testing.T) {
	sets := loadSets(t)
	want := map[string]bool{}
	for _, n := range strings.Split(*expVariants, ",") {
		if n != "" {
			want[n] = true
		}
	}
	w := os.Stdout
	fmt.Fprintf(w, "\n%-28s", "variant")
	for _, s := range sets {
		fmt.Fprintf(w, " | %-10s APGR  CPT50  CPT80 (decon APGR) ll    auc  ", s.name)
	}
	fmt.Fprintln(w)
	row := func(name string, rs []result) {
		fmt.Fprintf(w, "%-28s", name)
		for _, r := range rs {
			fmt.Fprintf(w, " | %-10s %.3f %5.1f%% %5.1f%% (%.3f)      %.3f %.3f", "", r.apgr, 100*r.cpt50, 100*r.cpt80, r.apgrD, r.logloss, r.auc)
		}
		fmt.Fprintln(w)
	}
	if (len(want) == 0 && *expMatch == "") || want["prior"] {
		var rs []result
		for _, s := range sets {
			var per []result
			for rep := 0; rep < *expRepeats; rep++ {
				per = append(per, measureScores(s, categoryPrior(s, uint64(rep))))
			}
			rs = append(rs, average(per))
		}
		row("category prior (floor)", rs)
		rs = nil
		for _, s := range sets {
			var per []result
			for rep := 0; rep < *expRepeats; rep++ {
				per = append(per, measureScores(s, categoryPriorAligned(s, uint64(rep))))
			}
			rs = append(rs, average(per))
		}
		row("category prior aligned", rs)
		rs = nil
		for _, s := range sets {
			var per []result
			for rep := 0; rep < 10; rep++ {
				per = append(per, splitPrior(s, uint64(rep)))
			}
			rs = append(rs, average(per))
		}
		row("category prior 50/50 split", rs)
		rs = nil
		for _, s := range sets {
			oracle := make([]float64, len(s.recs))
			for i := range oracle {
				oracle[i] = s.weak[i] - s.strong[i]
			}
			rs = append(rs, measureScores(s, oracle))
		}
		row("oracle (sanity)", rs)
	}
	for _, v := range variants() {
		if len(want) > 0 && !want[v.name] || !strings.Contains(v.name, *expMatch) {
			continue
		}
		start := time.Now()
		rs := runVariant(t, sets, v)
		row(v.name, rs)
		fmt.Fprintf(os.Stderr, "%s: %s\n", v.name, time.Since(start).Round(time.Second))
	}
	_ = math.NaN
}

// TestSubject measures how well text predicts an MMLU record's subject,
// and the APGR of routing by the predicted subject's prior.
func TestSubject(t *testing.T) {
	sets := loadSets(t)
	var s *expSet
	for _, x := range sets {
		if x.name == "mmlu" {
			s = x
		}
	}
	var samples []learn.Sample
	for i, x := range s.samples {
		x.Label = s.recs[i].Category
		samples = append(samples, x)
	}
	for _, l2 := range []float64{1e-4, 1e-3} {
		o := learn.TrainOptions{Featurizer: learn.Featurizer{Bits: 16, Words: 1, Punct: true, Digits: learn.DigitsBoth}, L2: []float64{l2}, Numeric: []string{}}
		m, r, err := learn.Train(learn.KindClassifier, samples, o)
		if err != nil {
			t.Fatal(err)
		}
		rate := map[string][2]float64{}
		for i := range s.recs {
			c := s.recs[i].Category
			v := rate[c]
			v[1]++
			if s.samples[i].Good[weakModel] {
				v[0]++
			}
			rate[c] = v
		}
		score := make([]float64, len(samples))
		for i := range samples {
			for k, lab := range m.Labels() {
				score[i] += r.OOF[i][k] * rate[lab][0] / rate[lab][1]
			}
		}
		res := measureScores(s, score)
		fmt.Printf("subject l2=%g: accuracy %.3f log loss %.3f; prior mixture APGR %.3f\n", l2, r.CrossFit.Accuracy, r.CrossFit.LogLoss, res.apgr)
	}
}

var (
	expModel = flag.String("exp.model", "", "TestModelFile: the model file to measure")
	expFile  = flag.String("exp.file", "", "TestModelFile: comma-separated data files")
	expPrune = flag.Float64("exp.prune", 0, "TestModelFile: prune weights below this first")
)

// TestModelFile measures a model file on data files the way `sextant
// eval` scores a winrate route: each record's request through
// RequestExample, Predict with the record's id (so the fold model that
// never saw it answers), the router "strong when P(weak good) < t".
func TestModelFile(t *testing.T) {
	if *expModel == "" {
		t.Skip("no -exp.model")
	}
	m, err := learn.Load(*expModel)
	if err != nil {
		t.Fatal(err)
	}
	if *expPrune > 0 {
		m = m.Pruned(*expPrune)
	}
	if data, err := m.Encode(); err == nil {
		fmt.Printf("%s: %d bytes encoded\n", *expModel, len(data))
	}
	wi := slices.Index(m.Labels(), weakModel)
	if m.Kind() == learn.KindClassifier && wi < 0 {
		t.Fatalf("labels %v", m.Labels())
	}
	for _, path := range strings.Split(*expFile, ",") {
		recs, err := dataset.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := &expSet{name: filepath.Base(path), recs: recs}
		var score []float64
		for i := range recs {
			s.strong = append(s.strong, *recs[i].Models[strongModel].Quality)
			s.weak = append(s.weak, *recs[i].Models[weakModel].Quality)
			x := trainset.Example(trainset.RouteRequest(&recs[i]))
			p := m.Predict(learn.WithRecord(context.Background(), recs[i].ID), &x)
			score = append(score, p[wi])
		}
		q := slices.Clone(score)
		slices.Sort(q)
		fmt.Printf("weak-model predictions: min %.3f p10 %.3f p50 %.3f p90 %.3f max %.3f\n",
			q[0], q[len(q)/10], q[len(q)/2], q[len(q)*9/10], q[len(q)-1])
		r := measureScores(s, score)
		fmt.Printf("%s on %s: APGR %.3f CPT50 %.1f%% CPT80 %.1f%% (decontaminated APGR %.3f CPT50 %.1f%% CPT80 %.1f%%)\n",
			*expModel, s.name, r.apgr, 100*r.cpt50, 100*r.cpt80, r.apgrD, 100*r.cpt50D, 100*r.cpt80D)
	}
}
