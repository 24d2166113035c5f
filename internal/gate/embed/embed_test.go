package embed

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
	"github.com/sextant-router/sextant/internal/llm"
)

func TestCosine(t *testing.T) {
	tests := []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 0}, []float32{1, 0}, 1},
		{[]float32{1, 0}, []float32{0, 2}, 0},
		{[]float32{1, 1}, []float32{-1, -1}, -1},
		{[]float32{1, 2, 3}, []float32{2, 4, 6}, 1},
		{[]float32{0, 0}, []float32{1, 1}, 0},
		{[]float32{1}, []float32{1, 0}, 0},
		{nil, nil, 0},
	}
	for _, tt := range tests {
		if got := Cosine(tt.a, tt.b); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Cosine(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestTexts(t *testing.T) {
	exec := &gatetest.Exec{Embeds: func(ctx context.Context, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
		vs := make([][]float32, len(req.Input))
		for i, s := range req.Input {
			vs[i] = []float32{float32(len(s))}
		}
		return &llm.EmbedResponse{Vectors: vs}, nil
	}}
	c := gatetest.Call("q", "", exec)
	texts := make([]string, 600)
	for i := range texts {
		texts[i] = strings.Repeat("x", i%7)
	}
	vs, err := Texts(context.Background(), c, "emb", texts)
	if err != nil || len(vs) != 600 || vs[599][0] != float32(599%7) {
		t.Fatalf("Texts = %d vectors, %v", len(vs), err)
	}
	if exec.Embeddings() != 3 {
		t.Fatalf("%d calls, want 3 batches", exec.Embeddings())
	}
	short := &gatetest.Exec{Embeds: func(ctx context.Context, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
		return &llm.EmbedResponse{Vectors: [][]float32{{1}}}, nil
	}}
	if _, err := Texts(context.Background(), gatetest.Call("q", "", short), "emb", []string{"a", "b"}); err == nil {
		t.Fatal("a short answer from the model was accepted")
	}
	if _, err := Texts(context.Background(), nil, "emb", []string{"a"}); err == nil {
		t.Fatal("no executor accepted")
	}
}

func TestCheckModel(t *testing.T) {
	b := gatetest.Builder{Models: map[string]*catalog.Model{
		"emb":  gatetest.Model("emb", "openai", catalog.CapEmbeddings),
		"chat": gatetest.Model("chat", "openai"),
	}}
	for _, tt := range []struct{ name, want string }{
		{"emb", ""}, {"", "required"}, {"nope", "unknown model"}, {"chat", "embeddings capability"},
	} {
		err := CheckModel(b, "p.model", tt.name)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckModel(%q) = %v, want %q", tt.name, err, tt.want)
		}
	}
}
