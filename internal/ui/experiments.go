package ui

import (
	"net/http"
	"time"

	"github.com/sextant-router/sextant/internal/experiment"
)

// experiments answers GET /ui/api/experiments: the report of every
// experiment whose route is in the current config, the same JSON as
// GET /v1/experiments/{name}.
func (h *handler) experiments(w http.ResponseWriter, r *http.Request) {
	snap := h.opts.Snapshot()
	out := []experiment.Report{}
	for _, name := range experiment.Default.Names() {
		src, ok := experiment.Default.Lookup(name)
		if !ok {
			continue
		}
		rep := src.Report(time.Now())
		if _, live := snap.Routes[rep.Route]; rep.Route != "" && !live {
			continue
		}
		out = append(out, rep)
	}
	writeJSON(w, map[string]any{"experiments": out})
}
