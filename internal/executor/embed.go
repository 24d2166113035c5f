package executor

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/tokens"
	"github.com/sextant-router/sextant/internal/trace"
)

// Embed calls model for embeddings with the same retries, deadlines and
// accounting as chat calls. The model must have the embeddings capability
// and a provider that implements provider.Embedder.
func (e *Executor) Embed(ctx context.Context, c *policy.Call, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	t, err := e.target(model)
	if err != nil {
		return nil, err
	}
	emb, ok := t.Provider.(provider.Embedder)
	if !ok || !t.Model.Has(catalog.CapEmbeddings) {
		return nil, &llm.Error{Status: http.StatusBadRequest, Type: llm.TypeInvalidRequest, Code: "model_not_embedding", Param: "model",
			Message: fmt.Sprintf("model %q does not serve embeddings", model), Class: llm.ClassUnsupported}
	}
	r := *req
	r.Model = t.Model.Upstream
	var out *llm.EmbedResponse
	err = e.retry(ctx, t, func(try int) error {
		idx, start := e.begin(c, t, try, false)
		timeout := e.opts.AttemptTimeout
		if t.Model.Timeout > 0 {
			timeout = t.Model.Timeout.D()
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		resp, err := emb.Embed(actx, &r)
		elapsed := time.Since(start)
		if err == nil && len(resp.Vectors) != len(r.Input) {
			err = &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Code: "bad_upstream_response",
				Message: fmt.Sprintf("the model returned %d vectors for %d inputs", len(resp.Vectors), len(r.Input)), Class: llm.ClassTransient}
		}
		if err != nil {
			err = classify(ctx, actx, err, t.Model.Name)
			finishError(c.Trace, idx, err, elapsed, 0)
			return err
		}
		usage := resp.Usage
		if usage.IsZero() {
			for _, in := range r.Input {
				usage.PromptTokens += tokens.Count(in)
			}
			usage.TotalTokens, usage.Estimated = usage.PromptTokens, true
			resp.Usage = usage
		}
		cost := t.Model.Price.Cost(usage)
		c.Trace.Update(idx, func(a *trace.Attempt) {
			a.Outcome, a.Status = trace.OutcomeOK, http.StatusOK
			a.LatencyMS = trace.Millis(elapsed)
			a.Usage, a.CostMicros = usage, cost
		})
		out = resp
		return nil
	})
	return out, err
}
