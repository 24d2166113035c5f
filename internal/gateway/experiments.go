package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/experiment"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/ui"
)

// experiments is the registry the experiment API reads; a variable so
// tests can use their own.
var experiments = experiment.Default

// liveExperiment returns the experiment called name if its route is in
// the current config (a reload that drops a split leaves its registration
// behind, and that one is hidden).
func liveExperiment(snap *config.Snapshot, name string) (experiment.Source, experiment.Report, bool) {
	src, ok := experiments.Lookup(name)
	if !ok {
		return nil, experiment.Report{}, false
	}
	rep := src.Report(time.Now())
	if rep.Route != "" {
		if _, ok := snap.Routes[rep.Route]; !ok {
			return nil, experiment.Report{}, false
		}
	}
	return src, rep, true
}

// listExperiments serves GET /v1/experiments: every live experiment's
// report. Authentication is a client key, as for /v1/decisions.
func (s *Server) listExperiments(w http.ResponseWriter, r *http.Request) {
	snap := s.engine.Snapshot()
	if _, le := authenticate(snap, r, &llm.Request{}); le != nil {
		writeError(w, le)
		return
	}
	data := []experiment.Report{}
	for _, name := range experiments.Names() {
		if _, rep, ok := liveExperiment(snap, name); ok {
			data = append(data, rep)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// experimentHandler serves GET /v1/experiments/{name} (a client key) and
// POST /v1/experiments/{name} (the admin key, as for /ui): a manual ramp
// {"share": 0.2} or {"weights": {"arm": w, ...}}.
func (s *Server) experimentHandler() http.HandlerFunc {
	ramp := ui.Protect(s.engine.Snapshot, func(*config.Snapshot) bool { return true }, http.HandlerFunc(s.rampExperiment))
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.getExperiment(w, r)
		case http.MethodPost:
			ramp.ServeHTTP(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			writeError(w, &llm.Error{Status: http.StatusMethodNotAllowed, Type: llm.TypeInvalidRequest, Code: "method_not_allowed",
				Message: fmt.Sprintf("%s is not allowed on %s; use GET or POST", r.Method, r.URL.Path)})
		}
	}
}

func experimentNotFound(name string) *llm.Error {
	return &llm.Error{Status: http.StatusNotFound, Type: llm.TypeNotFound, Code: "experiment_not_found",
		Message: fmt.Sprintf("no experiment named %q", name)}
}

func (s *Server) getExperiment(w http.ResponseWriter, r *http.Request) {
	snap := s.engine.Snapshot()
	if _, le := authenticate(snap, r, &llm.Request{}); le != nil {
		writeError(w, le)
		return
	}
	name := r.PathValue("name")
	_, rep, ok := liveExperiment(snap, name)
	if !ok {
		writeError(w, experimentNotFound(name))
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

type rampRequest struct {
	Share   *float64           `json:"share"`
	Weights map[string]float64 `json:"weights"`
}

func (s *Server) rampExperiment(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	src, _, ok := liveExperiment(s.engine.Snapshot(), name)
	if !ok {
		writeError(w, experimentNotFound(name))
		return
	}
	body, le := readJSONBody(w, r, 64<<10)
	if le != nil {
		writeError(w, le)
		return
	}
	var req rampRequest
	if err := conf.Decode("", body, &req); err != nil {
		var ce *conf.Error
		param := ""
		if errors.As(err, &ce) {
			param = ce.Path
		}
		writeError(w, &llm.Error{Status: http.StatusBadRequest, Type: llm.TypeInvalidRequest, Code: "invalid_json", Param: param,
			Message: "the body must be a JSON object {\"share\": s} or {\"weights\": {...}}: " + err.Error()})
		return
	}
	err := src.Ramp(req.Share, req.Weights)
	if errors.Is(err, experiment.ErrPromoted) {
		writeError(w, &llm.Error{Status: http.StatusConflict, Type: llm.TypeInvalidRequest, Code: "experiment_promoted", Message: err.Error()})
		return
	}
	if err != nil {
		writeError(w, &llm.Error{Status: http.StatusBadRequest, Type: llm.TypeInvalidRequest, Code: "invalid_ramp", Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, src.Report(time.Now()))
}
