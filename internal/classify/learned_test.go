package classify_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/classify"
	ct "github.com/sextant-router/sextant/internal/classify/classifytest"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

func newCall(exec policy.Executor, text string) *policy.Call {
	return &policy.Call{Request: ct.Request(text), Exec: exec, Trace: trace.New(time.Now())}
}

func TestModelClassifier(t *testing.T) {
	dir := t.TempDir()
	ct.Train(t, dir, "text.json", learn.KindClassifier, 120, false)
	ct.Train(t, dir, "vec.json", learn.KindClassifier, 120, true)
	b := ct.NewBuilder(dir)
	for _, tt := range []struct {
		name, cfg string
		embeds    bool
	}{
		{"text", `{"model":"text.json"}`, false},
		{"text, long form", `{"model":{"file":"text.json"}}`, false},
		{"embedding", `{"model":"vec.json"}`, true},
		{"embedding, explicit model", `{"model":{"file":"vec.json","embed_model":"embed"}}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := classify.New(b, "c", json.RawMessage(tt.cfg))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(c.Labels(), ","); got != "easy,hard" {
				t.Fatalf("labels %s", got)
			}
			exec := &ct.Exec{Models: b.Models}
			for i := 1000; i < 1012; i++ {
				text, hard := ct.Text(i)
				res, err := c.Classify(context.Background(), newCall(exec, text))
				if err != nil {
					t.Fatal(err)
				}
				want := "easy"
				if hard {
					want = "hard"
				}
				if res.Label != want || res.Prob < 0.6 {
					t.Errorf("%q: %s p=%.3f, want %s", text, res.Label, res.Prob, want)
				}
				if sum := res.Probs[0] + res.Probs[1]; sum < 0.999999 || sum > 1.000001 {
					t.Errorf("probabilities sum to %v", sum)
				}
			}
			if tt.embeds != (len(exec.Embeds) == 12) || !tt.embeds && len(exec.Embeds) != 0 {
				t.Errorf("embedded %d texts", len(exec.Embeds))
			}
			if tt.embeds && exec.Embeds[0] != "Question 1000 about the greeting please." {
				t.Errorf("embedded %q, want the user's text", exec.Embeds[0])
			}
		})
	}
}

func TestModelClassifierEmbedFailure(t *testing.T) {
	dir := t.TempDir()
	ct.Train(t, dir, "vec.json", learn.KindClassifier, 60, true)
	b := ct.NewBuilder(dir)
	c, err := classify.New(b, "c", json.RawMessage(`{"model":"vec.json"}`))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err = c.Classify(context.Background(), newCall(&ct.Exec{Models: b.Models, EmbedErr: boom}, "hello"))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "embed the request with embed") {
		t.Errorf("err = %v", err)
	}
}

// wrongDim embeds with vectors of another length than the model's.
type wrongDim struct{ ct.Exec }

func (w *wrongDim) Embed(ctx context.Context, c *policy.Call, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	return &llm.EmbedResponse{Vectors: [][]float32{make([]float32, ct.Dim+1)}}, nil
}

func TestModelClassifierWrongDimensions(t *testing.T) {
	dir := t.TempDir()
	ct.Train(t, dir, "vec.json", learn.KindClassifier, 60, true)
	b := ct.NewBuilder(dir)
	c, err := classify.New(b, "c", json.RawMessage(`{"model":"vec.json"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Classify(context.Background(), newCall(&wrongDim{}, "hello"))
	if err == nil || !strings.Contains(err.Error(), "got 65 dimensions, vec.json was trained on 64") {
		t.Errorf("err = %v", err)
	}
}

func TestModelClassifierConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ct.Train(t, dir, "text.json", learn.KindClassifier, 60, false)
	ct.Train(t, dir, "vec.json", learn.KindClassifier, 60, true)
	ct.Train(t, dir, "win.json", learn.KindWinrate, 60, false)
	b := ct.NewBuilder(dir)
	b.Models["plain"] = b.Models["cheap"]
	tests := []struct{ name, cfg, want string }{
		{"missing file", `{"model":"nope.json"}`, "c.model.file: learn: open " + filepath.Join(dir, "nope.json")},
		{"no file", `{"model":{}}`, "c.model.file: required"},
		{"wrong kind", `{"model":"win.json"}`, "c.model.file: win.json is a winrate model, want a classifier model"},
		{"embed_model on a text model", `{"model":{"file":"text.json","embed_model":"embed"}}`, "c.model.embed_model: text.json reads text"},
		{"unknown embed model", `{"model":{"file":"vec.json","embed_model":"nomic"}}`, `c.model.embed_model: unknown model "nomic"`},
		{"not an embeddings model", `{"model":{"file":"vec.json","embed_model":"cheap"}}`, `c.model.embed_model: model "cheap" lacks the embeddings capability`},
		{"unknown field", `{"model":{"file":"text.json","k":3}}`, "c.model.k: unknown field"},
		{"unknown builtin", `{"model":"builtin:nope"}`, `c.model.file: learn: no built-in model "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := classify.New(b, "c", json.RawMessage(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
