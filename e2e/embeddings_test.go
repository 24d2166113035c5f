package e2e

import (
	"math"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestEmbeddings calls POST /v1/embeddings with the OpenAI SDK: vectors in
// input order with usage and cost; models without the capability refused.
func TestEmbeddings(t *testing.T) {
	t.Parallel()
	p := startConfig(t, `
models:
  - {name: emb, provider: sim, price: {input: 0.02, output: 0}, capabilities: [embeddings], options: {realtime: false, embedding_dimensions: 32}}
  - {name: chat, provider: sim, options: {realtime: false}}
`)
	c := p.with(t)
	var resp *http.Response
	out, err := c.sdk.Embeddings.New(ctx(t), openai.EmbeddingNewParams{
		Model: "emb",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"the cat sat", "the cat sat", "stock prices fell"}},
	}, option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Data) != 3 || len(out.Data[0].Embedding) != 32 || out.Usage.PromptTokens == 0 {
		t.Fatalf("response = %+v", out)
	}
	same, diff := cosine(out.Data[0].Embedding, out.Data[1].Embedding), cosine(out.Data[0].Embedding, out.Data[2].Embedding)
	if math.Abs(same-1) > 1e-6 || diff >= same {
		t.Errorf("cosine same %v, different %v", same, diff)
	}
	if resp.Header.Get("X-Sextant-Model") != "emb" || resp.Header.Get("X-Sextant-Cost-Usd") == "" {
		t.Errorf("headers %v", resp.Header)
	}
	_, err = c.sdk.Embeddings.New(ctx(t), openai.EmbeddingNewParams{Model: "chat", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
	if e := asAPIError(t, err); e.StatusCode != http.StatusBadRequest || e.Param != "model" {
		t.Errorf("chat model for embeddings: %v", err)
	}
}

func cosine(a, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	return dot / math.Sqrt(na*nb)
}
