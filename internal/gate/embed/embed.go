// Package embed holds what the embedding-based gates (similarity,
// consistency) share: calling an embeddings model through the executor
// and comparing vectors.
package embed

import (
	"context"
	"fmt"
	"math"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

// batch is the most texts sent in one embeddings call.
const batch = 256

// Texts embeds texts with model through c.Exec (so the cost lands in the
// request's trace), in batches, and returns one vector per text.
func Texts(ctx context.Context, c *policy.Call, model string, texts []string) ([][]float32, error) {
	if c == nil || c.Exec == nil {
		return nil, fmt.Errorf("embed: no executor to call %s", model)
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += batch {
		part := texts[start:min(start+batch, len(texts))]
		resp, err := c.Exec.Embed(ctx, c, model, &llm.EmbedRequest{Model: model, Input: part})
		if err != nil {
			return nil, err
		}
		if len(resp.Vectors) != len(part) {
			return nil, fmt.Errorf("embed: %s returned %d vectors for %d texts", model, len(resp.Vectors), len(part))
		}
		out = append(out, resp.Vectors...)
	}
	return out, nil
}

// Cosine returns the cosine similarity of a and b, in [-1,1]; 0 when
// either is zero or their lengths differ.
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return max(-1, min(1, dot/math.Sqrt(na*nb)))
}

// CheckModel returns an error at path unless the catalog has an
// embeddings model called name.
func CheckModel(b policy.Builder, path, name string) error {
	if name == "" {
		return conf.Errorf(path, "required: an embeddings model of the catalog")
	}
	m, ok := b.Model(name)
	if !ok {
		return conf.Errorf(path, "unknown model %q", name)
	}
	if !m.Has(catalog.CapEmbeddings) {
		return conf.Errorf(path, "model %q does not have the embeddings capability", name)
	}
	return nil
}
