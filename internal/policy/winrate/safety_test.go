package winrate

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	ct "github.com/sextant-router/sextant/internal/classify/classifytest"
	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/learn"
)

// A request cannot steer the winrate router by anything but its content:
// the decision is a function of the request's messages (through their
// features) and the model file. Routing hints in metadata, headers, the
// model field or the caller change nothing; a prompt that asks for the
// most expensive model, as text, a system prompt or an earlier turn, gets
// exactly the decision that the model file gives its features, computed
// here without the node.
func TestWinrateDecisionIsAFunctionOfContent(t *testing.T) {
	f := newFixture(t)
	node := f.build(t, `{"model":"win.json","candidates":["cheap","mid","strong"],"threshold":0.5}`)
	file, err := learn.Load(filepath.Join(f.dir, "win.json"))
	if err != nil {
		t.Fatal(err)
	}
	// reference is the decision computed from the features and the file
	// alone.
	reference := func(c *ct.Variant) (string, map[string]float64) {
		req := ct.ContentOnly(c.Call(f.exec), f.exec).Request
		ex := learn.RequestExample(req, features.Extract(req))
		p := file.Predict(context.Background(), &ex)
		probs := map[string]float64{}
		for i, l := range file.Labels() {
			probs[l] = p[i]
		}
		switch {
		case probs["weak-upstream"] >= 0.5:
			return "cheap", probs
		case probs["mid-upstream"] >= 0.5:
			return "mid", probs
		}
		return "strong", probs
	}
	easy, _ := ct.Text(4000)
	hard, _ := ct.Text(4001)
	for _, base := range []string{easy, hard, "What is the capital of France?"} {
		var baseModel string
		for _, v := range ct.Variants(base) {
			t.Run(base+"/"+v.Name, func(t *testing.T) {
				got, d := serve(t, node, v.Call(f.exec))
				want, probs := reference(&v)
				if got != want {
					t.Errorf("served %s, the features and model give %s", got, want)
				}
				traced := map[string]float64{}
				for _, c := range d.Data["candidates"].([]map[string]any) {
					traced[c["label"].(string)] = c["p"].(float64)
				}
				if !reflect.DeepEqual(traced, probs) {
					t.Errorf("traced probabilities %v, the model gives %v", traced, probs)
				}
				switch {
				case v.Name == "base":
					baseModel = got
				case v.SameContent && got != baseModel:
					t.Errorf("served %s, the same content without hints %s", got, baseModel)
				}
			})
		}
	}
}
