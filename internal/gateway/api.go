package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/store"
)

// modelEntry is one item of GET /v1/models: the OpenAI fields plus kind
// ("model" or "route") and, for models, where answers come from: "live",
// "replay" (recorded answers) or "sim" (simulated).
type modelEntry struct {
	ID            string     `json:"id"`
	Object        string     `json:"object"`
	Created       int64      `json:"created"`
	OwnedBy       string     `json:"owned_by"`
	Kind          string     `json:"kind"`
	Provider      string     `json:"provider,omitempty"`
	Upstream      string     `json:"upstream,omitempty"`
	Source        string     `json:"source,omitempty"`
	ContextWindow int        `json:"context_window,omitempty"`
	Capabilities  []string   `json:"capabilities,omitempty"`
	Price         *priceView `json:"price_per_1m_tokens,omitempty"`
}

type priceView struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
	Cached float64 `json:"cached"`
}

func modelView(snap *config.Snapshot, name string) modelEntry {
	m := snap.Models[name]
	source := "live"
	if l, ok := snap.Targets[name].Provider.(provider.Labeler); ok {
		source = l.Label()
	}
	return modelEntry{ID: name, Object: "model", OwnedBy: "sextant", Kind: "model", Provider: m.Provider, Upstream: m.Upstream,
		Source: source, ContextWindow: m.ContextWindow, Capabilities: m.CapabilityList(),
		Price: &priceView{Input: m.Price.Input.USD(), Output: m.Price.Output.USD(), Cached: m.Price.Cached.USD()}}
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	snap := s.engine.Snapshot()
	data := make([]modelEntry, 0, len(snap.RouteOrder)+len(snap.Order))
	for _, name := range snap.RouteOrder {
		data = append(data, modelEntry{ID: name, Object: "model", OwnedBy: "sextant", Kind: "route"})
	}
	for _, name := range snap.Order {
		data = append(data, modelView(snap, name))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	snap := s.engine.Snapshot()
	name := r.PathValue("name")
	if _, ok := snap.Models[name]; ok {
		writeJSON(w, http.StatusOK, modelView(snap, name))
		return
	}
	if _, ok := snap.Routes[name]; ok {
		writeJSON(w, http.StatusOK, modelEntry{ID: name, Object: "model", OwnedBy: "sextant", Kind: "route"})
		return
	}
	if m, ok := strings.CutSuffix(name, "/health"); ok {
		if _, ok := snap.Models[m]; ok {
			writeJSON(w, http.StatusOK, modelHealth(snap, m))
			return
		}
	}
	writeError(w, &llm.Error{Status: http.StatusNotFound, Type: llm.TypeNotFound, Code: "model_not_found", Param: "model",
		Message: fmt.Sprintf("the model or route %q does not exist", name)})
}

func (s *Server) decision(w http.ResponseWriter, r *http.Request) {
	if _, le := authenticate(s.engine.Snapshot(), r, &llm.Request{}); le != nil {
		writeError(w, le)
		return
	}
	if s.log == nil {
		writeError(w, notFound("decision log is disabled"))
		return
	}
	d, err := s.log.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, notFound(fmt.Sprintf("no decision with id %q", r.PathValue("id"))))
		return
	}
	if err != nil {
		writeError(w, &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer, Message: "could not read the decision log", Cause: err})
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// feedbackRequest is the body of POST /v1/feedback.
type feedbackRequest struct {
	RequestID string   `json:"request_id"`
	Score     *float64 `json:"score"`
	Label     string   `json:"label"`
	Comment   string   `json:"comment"`
}

func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	if _, le := authenticate(s.engine.Snapshot(), r, &llm.Request{}); le != nil {
		writeError(w, le)
		return
	}
	body, le := readJSONBody(w, r, 64<<10)
	if le != nil {
		writeError(w, le)
		return
	}
	var fr feedbackRequest
	if err := conf.Decode("", body, &fr); err != nil {
		var ce *conf.Error
		param := ""
		if errors.As(err, &ce) {
			param = ce.Path
		}
		writeError(w, &llm.Error{Status: http.StatusBadRequest, Type: llm.TypeInvalidRequest, Param: param, Message: "invalid feedback: " + err.Error()})
		return
	}
	switch {
	case fr.RequestID == "":
		writeError(w, llm.Errorf("request_id", "request_id is required"))
		return
	case fr.Score == nil && fr.Label == "" && fr.Comment == "":
		writeError(w, llm.Errorf("score", "feedback needs a score, a label or a comment"))
		return
	case len(fr.Label) > 256:
		writeError(w, llm.Errorf("label", "label is longer than 256 bytes"))
		return
	case len(fr.Comment) > 16<<10:
		writeError(w, llm.Errorf("comment", "comment is longer than 16 KiB"))
		return
	}
	if s.log == nil {
		writeError(w, notFound("decision log is disabled"))
		return
	}
	fb := store.Feedback{RequestID: fr.RequestID, Score: fr.Score, Label: fr.Label, Comment: fr.Comment, Time: time.Now().UTC()}
	if fr.Score != nil {
		// Held until previousScore has read the score this one replaces.
		s.feedbackMu.Lock()
	}
	err := s.log.AddFeedback(r.Context(), fb)
	var previous *float64
	var prevErr error
	if err == nil && fr.Score != nil {
		previous, prevErr = s.previousScore(r.Context(), fr.RequestID)
	}
	if fr.Score != nil {
		s.feedbackMu.Unlock()
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, notFound(fmt.Sprintf("no request with id %q", fr.RequestID)))
		return
	}
	if err != nil {
		writeError(w, &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer, Message: "could not store the feedback", Cause: err})
		return
	}
	if fr.Score != nil {
		if d, err := s.log.Get(r.Context(), fr.RequestID); err == nil {
			// The model's live feedback signal, by the request's category.
			if d.Model != "" {
				signals.Default.Feedback(d.Model, d.Category, *fr.Score)
			}
			// The learning nodes in the request's trace, with the score
			// this one replaces. When that is unknown they are not told
			// (as a first score, it would count the request twice).
			if prevErr == nil {
				learning.Default.Feedback(d, *fr.Score, previous)
			} else {
				s.logger.Warn("feedback not learned from: reading the earlier scores failed", "request_id", fr.RequestID, "err", prevErr)
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"request_id": fr.RequestID, "status": "recorded"})
}

// previousScore returns the latest score given to id before the newest
// feedback (the one just stored), nil when there is none.
func (s *Server) previousScore(ctx context.Context, id string) (*float64, error) {
	fbs, err := s.log.Feedback(ctx, id)
	if err != nil {
		return nil, err
	}
	for i := len(fbs) - 2; i >= 0; i-- {
		if fbs[i].Score != nil {
			return fbs[i].Score, nil
		}
	}
	return nil, nil
}

func notFound(msg string) *llm.Error {
	return &llm.Error{Status: http.StatusNotFound, Type: llm.TypeNotFound, Code: "not_found", Message: msg}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	snap := s.engine.Snapshot()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "models": len(snap.Models), "routes": len(snap.Routes)})
}
