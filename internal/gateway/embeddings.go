package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/openaiapi"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// embeddings serves POST /v1/embeddings: the client names a model with the
// embeddings capability; the call goes through the executor (retries,
// deadlines, usage and cost) and is logged like a chat request.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	snap := s.engine.Snapshot()
	body, le := readJSONBody(w, r, snap.File.Server.MaxBodyBytes)
	if le != nil {
		writeError(w, le)
		return
	}
	req, encoding, err := openaiapi.DecodeEmbeddingsRequest(body)
	if err != nil {
		writeError(w, llm.AsError(err))
		return
	}
	if _, le := authenticate(snap, r, &llm.Request{}); le != nil {
		writeError(w, le)
		return
	}
	w.Header().Set(HeaderRoute, req.Model)
	if _, ok := snap.Models[req.Model]; !ok {
		writeError(w, &llm.Error{Status: http.StatusNotFound, Type: llm.TypeNotFound, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("the embeddings model %q does not exist; GET /v1/models lists models and their capabilities", req.Model)})
		return
	}
	ctx, cancel := contextWithTimeout(r, snap.File.Executor.TotalTimeout.D())
	defer cancel()
	tr := trace.New(start)
	call := &policy.Call{Trace: tr, Exec: snap.Executor, Now: start}
	resp, err := snap.Executor.Embed(ctx, call, req.Model, req)
	_, cost := tr.Totals()
	w.Header().Set(HeaderCost, cost.String())
	if err != nil {
		writeError(w, clientError(err))
		return
	}
	out, err := openaiapi.EncodeEmbeddings(resp, encoding)
	if err != nil {
		writeError(w, &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Message: "the embeddings could not be encoded", Cause: err})
		return
	}
	w.Header().Set(HeaderModel, req.Model)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// contextWithTimeout bounds a request's work by the config's total timeout.
func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(r.Context())
	}
	return context.WithTimeout(r.Context(), d)
}
