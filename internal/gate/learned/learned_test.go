package learned

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
	_ "github.com/sextant-router/sextant/internal/gate/logprob"
	_ "github.com/sextant-router/sextant/internal/gate/structure"
	_ "github.com/sextant-router/sextant/internal/gate/validator"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
)

func TestAnswerExample(t *testing.T) {
	req := &llm.Request{Messages: []llm.Message{{Role: "user", Content: "Tom has 3 apples and buys 4 more. How many?"}}}
	tests := []struct {
		name   string
		text   string
		finish string
		want   map[string]float64
	}{
		{"worked and stated", "3 + 4 = <<3+4=7>>7\n#### 7", "", map[string]float64{
			"arith_steps": math.Log1p(1), "arith_wrong": 0, "final_stated": 1, "final_hashes": 1, "final_numeric": 1, "final_in_prompt": 0, "truncated": 0}},
		{"wrong step", "3 + 4 = 8 apples. The answer is 8.", "", map[string]float64{
			"arith_steps": math.Log1p(1), "arith_wrong": math.Log1p(1), "arith_wrong_share": 1, "final_stated": 1, "final_hashes": 0}},
		{"copied number", "He has 4.", "", map[string]float64{"final_stated": 0, "final_numeric": 1, "final_in_prompt": 1}},
		{"refusal and hedges", "I'm sorry, but I can't help. I think it is probably hard.", "", map[string]float64{"refusal": 1, "hedges": math.Log1p(2)}},
		{"truncated code", "```go\nfunc main() {", llm.FinishLength, map[string]float64{"truncated": 1, "code_blocks": math.Log1p(1), "code_unclosed": 1, "final_numeric": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := AnswerExample(req, gatetest.Response(tt.text, tt.finish))
			if x.Text != tt.text {
				t.Errorf("text %q", x.Text)
			}
			for k, v := range tt.want {
				if got, ok := x.Numeric[k]; !ok || math.Abs(got-v) > 1e-9 {
					t.Errorf("%s = %v (%v), want %v", k, got, ok, v)
				}
			}
			for _, k := range AnswerNumeric {
				if _, ok := x.Numeric[k]; !ok {
					t.Errorf("feature %s missing", k)
				}
			}
			for _, k := range learn.RequestNumeric {
				if _, ok := x.Numeric["req_"+k]; !ok {
					t.Errorf("request feature %s missing", k)
				}
			}
		})
	}
	lp := gatetest.Response("7", "")
	lp.Choices[0].Logprobs = &llm.Logprobs{Content: []llm.TokenLogprob{{Logprob: -0.5}, {Logprob: -1.5}}}
	x := AnswerExample(nil, lp)
	if x.Numeric["has_logprobs"] != 1 || x.Numeric["lp_mean"] != -1 || x.Numeric["lp_min"] != -1.5 {
		t.Errorf("logprob features %v", x.Numeric)
	}
	if _, ok := x.Numeric["req_math"]; ok {
		t.Error("request features without a request")
	}
	if x := AnswerExample(req, nil); x.Text != "" || x.Numeric["log_chars"] != 0 {
		t.Errorf("empty response: %+v", x)
	}
	// Serving and training featurize alike.
	a, b := AnswerExample(req, gatetest.Response("so 7\n#### 7", "")), RecordExample("any", req, "so 7\n#### 7")
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("serving %v != training %v", a, b)
	}
}

func ptr[T any](v T) *T { return &v }

func TestRecordSamples(t *testing.T) {
	recs := []dataset.Record{
		{ID: "g/1", Dataset: "gsm8k", Prompt: []dataset.Turn{{Role: "user", Content: "q1"}}, Models: map[string]dataset.ModelAnswer{
			"weak": {Quality: ptr(1.0), Correct: ptr(true), Response: []string{"#### 1"}}, "strong": {Quality: ptr(1.0), Correct: ptr(true)}}},
		{ID: "g/2", Dataset: "gsm8k", Prompt: []dataset.Turn{{Role: "user", Content: "q2"}}, Models: map[string]dataset.ModelAnswer{
			"weak": {Quality: ptr(0.0), Correct: ptr(false), Response: []string{"#### 2"}}, "strong": {Quality: ptr(1.0), Correct: ptr(true)}}},
		{ID: "g/3", Dataset: "gsm8k", Prompt: []dataset.Turn{{Role: "user", Content: "q3"}}, Models: map[string]dataset.ModelAnswer{
			"weak": {Quality: ptr(0.0), Correct: ptr(false), Response: []string{"#### 3"}}, "strong": {Quality: ptr(0.0), Correct: ptr(false)}}},
		{ID: "m/4", Dataset: "mt_bench", Prompt: []dataset.Turn{{Role: "user", Content: "q4"}}, Models: map[string]dataset.ModelAnswer{
			"weak": {Quality: ptr(8.5), Score: ptr(8.5), Response: []string{"essay"}}, "strong": {Quality: ptr(9.0), Score: ptr(9.0)}}},
		{ID: "m/5", Dataset: "mt_bench", Prompt: []dataset.Turn{{Role: "user", Content: "q5"}}, Models: map[string]dataset.ModelAnswer{
			"strong": {Quality: ptr(9.0)}}},
	}
	tests := []struct {
		opts    SampleOptions
		want    string
		skipped int
	}{
		{SampleOptions{Model: "weak"}, "g/1:true g/2:false g/3:true m/4:false", 1},
		{SampleOptions{Model: "weak", Label: LabelCorrect}, "g/1:true g/2:false g/3:false m/4:true", 1},
		{SampleOptions{Model: "weak", Label: LabelCorrect, MinScore: 9}, "g/1:true g/2:false g/3:false m/4:false", 1},
	}
	for _, tt := range tests {
		samples, skipped, err := RecordSamples(recs, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range samples {
			got = append(got, fmt.Sprintf("%s:%v", s.ID, s.Good["accept"]))
		}
		if strings.Join(got, " ") != tt.want || skipped != tt.skipped {
			t.Errorf("%+v: %v (skipped %d), want %s", tt.opts, got, skipped, tt.want)
		}
	}
	if _, _, err := RecordSamples(recs, SampleOptions{}); err == nil {
		t.Error("no model accepted")
	}
	if _, _, err := RecordSamples(recs, SampleOptions{Model: "weak", Label: "vibes"}); err == nil {
		t.Error("unknown label accepted")
	}
}

// trainTiny trains a gate model that accepts answers stating a final
// answer and rejects those with wrong arithmetic.
func trainTiny(t testing.TB) *learn.Model {
	t.Helper()
	var samples []learn.Sample
	req := &llm.Request{Messages: []llm.Message{{Role: "user", Content: "add them"}}}
	for i := range 80 {
		good := i%2 == 0
		text := fmt.Sprintf("%d + %d = %d\n#### %d", i, i, 2*i, 2*i)
		if !good {
			text = fmt.Sprintf("%d + %d = %d so maybe %d", i, i, 2*i+1, 2*i+1)
		}
		samples = append(samples, learn.Sample{ID: fmt.Sprint(i), X: RecordExample("m", req, text), Good: map[string]bool{"accept": good}})
	}
	m, _, err := learn.Train(learn.KindGate, samples, learn.TrainOptions{Folds: 2, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGate(t *testing.T) {
	m := trainTiny(t)
	dir := t.TempDir()
	if err := m.Save(filepath.Join(dir, "gate.json")); err != nil {
		t.Fatal(err)
	}
	b := gatetest.Builder{Dir: dir}
	for _, tt := range []struct{ cfg, want string }{
		{`"learned"`, "g.learned.model: required"},
		{`{"learned":{"model":"missing.json"}}`, "g.learned.model:"},
		{`{"learned":{"model":"gate.json","threshold":2}}`, "g.learned.threshold: must be in [0,1]"},
	} {
		if _, err := gate.Build(b, "g", json.RawMessage(tt.cfg)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
	g, err := gate.Build(b, "g", json.RawMessage(`{"learned":{"model":"gate.json"}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := gatetest.Call("add them", "", nil)
	good, err := g.Check(context.Background(), c, gatetest.Answer(c, "21 + 21 = 42\n#### 42"))
	if err != nil || !good.Pass || good.Score < 0.7 {
		t.Fatalf("good answer: %+v, %v", good, err)
	}
	bad, _ := g.Check(context.Background(), c, gatetest.Answer(c, "21 + 21 = 43 so maybe 43"))
	if bad.Pass || bad.Score > 0.3 || bad.Metrics["arith_wrong_share"] != 1 {
		t.Fatalf("bad answer: %+v", bad)
	}
	a := gatetest.Answer(c, "21")
	a.Partial = true
	if v, _ := g.Check(context.Background(), c, a); !v.Skipped {
		t.Fatalf("partial: %+v", v)
	}
}

func TestNotAGateModel(t *testing.T) {
	var samples []learn.Sample
	for i := range 40 {
		samples = append(samples, learn.Sample{ID: fmt.Sprint(i), X: learn.Example{Text: fmt.Sprintf("word%d w%d", i%2, i)}, Label: fmt.Sprint("class", i%2)})
	}
	m, _, err := learn.Train(learn.KindClassifier, samples, learn.TrainOptions{Folds: 2, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m.Save(filepath.Join(dir, "clf.json"))
	_, err = gate.Build(gatetest.Builder{Dir: dir}, "g", json.RawMessage(`{"learned":{"model":"clf.json"}}`))
	if err == nil || !strings.Contains(err.Error(), "not a gate model") {
		t.Fatalf("err = %v", err)
	}
}

// benchAnswer is a worked solution of about 500 tokens.
var benchAnswer = strings.Repeat("The house cost $80,000 and repairs $50,000, so 80,000 + 50,000 = $<<80000+50000=130000>>130,000. I think the increase is 80,000 * 1.5 = $120,000. ", 13) + "\n#### 70000\n"

func BenchmarkLearned(b *testing.B) {
	g := NewFromModel("learned", gate.Fixed(0.5), trainTiny(b))
	c := gatetest.Call("Josh buys a house for $80,000 and puts in $50,000 in repairs. This increased the value of the house by 150%. How much profit did he make?", "", nil)
	a := gatetest.Answer(c, benchAnswer)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		// A fresh Answer each time: its shared analysis is not cached.
		g.Check(ctx, c, &gate.Answer{Model: a.Model, Request: a.Request, Response: a.Response})
	}
}

// BenchmarkCombination is the cheap gates of a cascade together on a
// 500-token answer with logprobs: structure, validator (arithmetic and
// final answer), logprob and learned, every gate run (no short circuit).
// The answer's text analysis is shared (Answer.Analysis), so the cost is
// less than the gates' benchmarks summed; a required pattern such as
// (?m)^#### costs structure about 25 µs more (BenchmarkStructure).
func BenchmarkCombination(b *testing.B) {
	dir := b.TempDir()
	if err := trainTiny(b).Save(filepath.Join(dir, "gate.json")); err != nil {
		b.Fatal(err)
	}
	g, err := gate.Build(gatetest.Builder{Dir: dir}, "g", json.RawMessage(`{"all":{"short_circuit":false,"gates":[
		{"structure":{"min_chars":20,"max_tokens":2000,"forbid":["(?i)as an ai language model"],"max_hedges":5}},
		{"validator":{"arithmetic":{},"final_answer":{}}},
		{"logprob":{"metric":"margin"}},
		{"learned":{"model":"gate.json","threshold":0.1}}]}}`))
	if err != nil {
		b.Fatal(err)
	}
	c := gatetest.Call("Josh buys a house for $80,000 and puts in $50,000 in repairs. This increased the value of the house by 150%. How much profit did he make?", "", nil)
	a := gatetest.Answer(c, benchAnswer)
	a.Response.Usage.CompletionTokens = 500
	lp := &llm.Logprobs{}
	for range 500 {
		lp.Content = append(lp.Content, llm.TokenLogprob{Token: "t", Logprob: -0.2, TopLogprobs: []llm.TopLogprob{{Logprob: -0.2}, {Logprob: -2}}})
	}
	a.Response.Choices[0].Logprobs = lp
	ctx := context.Background()
	if v, err := g.Check(ctx, c, a); err != nil || len(v.Verdicts) != 4 || v.Verdicts[0].Skipped || v.Verdicts[2].Skipped {
		b.Fatalf("bench verdict %+v, %v", v, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		// A fresh Answer each time: its shared analysis is not cached.
		g.Check(ctx, c, &gate.Answer{Model: a.Model, Request: a.Request, Response: a.Response})
	}
}
