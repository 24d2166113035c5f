package similarity

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
	"github.com/sextant-router/sextant/internal/llm"
)

var models = map[string]*catalog.Model{
	"emb":  gatetest.Model("emb", "openai", catalog.CapEmbeddings),
	"chat": gatetest.Model("chat", "openai"),
}

func builder(t *testing.T) gatetest.Builder {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "refs.txt"), []byte("Paris\n\nBerlin\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "refs.jsonl"), []byte(`{"text":"Rome","id":1}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte(`{"id":1}`+"\n"), 0o644)
	return gatetest.Builder{Models: models, Dir: dir}
}

func TestConfigErrors(t *testing.T) {
	b := builder(t)
	for _, tt := range []struct{ cfg, want string }{
		{`{"similarity":{"references":["x"]}}`, "g.similarity.model: required"},
		{`{"similarity":{"model":"chat","references":["x"]}}`, "embeddings capability"},
		{`{"similarity":{"model":"emb"}}`, "g.similarity: references or file is required"},
		{`{"similarity":{"model":"emb","references":[" "]}}`, "g.similarity.references[0]: empty reference"},
		{`{"similarity":{"model":"emb","file":"missing.txt"}}`, "g.similarity.file:"},
		{`{"similarity":{"model":"emb","file":"bad.jsonl"}}`, `bad.jsonl:1: no "text"`},
	} {
		if _, err := gate.Build(b, "g", json.RawMessage(tt.cfg)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// cityVectors embeds a text as a one-hot vector of the city it names.
func cityVectors(ctx context.Context, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	cities := []string{"Paris", "Berlin", "Rome"}
	out := &llm.EmbedResponse{}
	for _, s := range req.Input {
		v := make([]float32, len(cities)+1)
		v[len(cities)] = 0.2 // something in common
		for i, c := range cities {
			if strings.Contains(s, c) {
				v[i] = 1
			}
		}
		out.Vectors = append(out.Vectors, v)
	}
	return out, nil
}

func TestCheck(t *testing.T) {
	g, err := gate.Build(builder(t), "g", json.RawMessage(`{"similarity":{"model":"emb","references":["It is Madrid"],"file":"refs.txt"}}`))
	if err != nil {
		t.Fatal(err)
	}
	g2, err := gate.Build(builder(t), "g", json.RawMessage(`{"similarity":{"model":"emb","file":"refs.jsonl","threshold":0.5}}`))
	if err != nil {
		t.Fatal(err)
	}
	exec := &gatetest.Exec{Models: models, Embeds: cityVectors}
	c := gatetest.Call("capital?", "", exec)
	v, err := g.Check(context.Background(), c, gatetest.Answer(c, "The capital is Berlin."))
	if err != nil || !v.Pass || abs(v.Score-1) > 1e-6 || v.Metrics["reference"] != 2 {
		t.Fatalf("verdict %+v, %v", v, err)
	}
	v, _ = g.Check(context.Background(), c, gatetest.Answer(c, "Either Berlin or Paris."))
	if v.Pass || abs(v.Score-1.04/math.Sqrt(2.04*1.04)) > 1e-6 {
		t.Fatalf("verdict %+v", v)
	}
	if exec.Embeddings() != 3 {
		t.Fatalf("%d embedding calls, want 3 (references once)", exec.Embeddings())
	}
	if v, _ := g2.Check(context.Background(), c, gatetest.Answer(c, "Rome.")); !v.Pass {
		t.Fatalf("jsonl references: %+v", v)
	}
	if v, _ := g.Check(context.Background(), c, gatetest.Answer(c, " ")); v.Pass || v.Reason != "empty answer" {
		t.Fatalf("verdict %+v", v)
	}
	a := gatetest.Answer(c, "Paris")
	a.Partial = true
	if v, _ := g.Check(context.Background(), c, a); !v.Skipped {
		t.Fatalf("partial: %+v", v)
	}
}

func TestEmbeddingFailureRetried(t *testing.T) {
	g, err := gate.Build(builder(t), "g", json.RawMessage(`{"similarity":{"model":"emb","references":["Paris"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	fail := true
	exec := &gatetest.Exec{Models: models, Embeds: func(ctx context.Context, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
		if fail {
			return nil, errors.New("503")
		}
		return cityVectors(ctx, model, req)
	}}
	c := gatetest.Call("q", "", exec)
	if _, err := g.Check(context.Background(), c, gatetest.Answer(c, "Paris")); err == nil {
		t.Fatal("no error")
	}
	fail = false
	if v, err := g.Check(context.Background(), c, gatetest.Answer(c, "Paris")); err != nil || !v.Pass {
		t.Fatalf("after recovery: %+v, %v", v, err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
