package gateway

import (
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/signals"
)

// healthView is the body of GET /v1/models/{name}/health: the model's live
// signals over the window and its circuit.
type healthView struct {
	Object string `json:"object"` // "model.health"
	ID     string `json:"id"`
	// Healthy is false while the model's circuit is open (and circuit
	// breaking is on).
	Healthy bool `json:"healthy"`
	// CircuitBreaking says whether the config turned circuits on.
	CircuitBreaking bool          `json:"circuit_breaking"`
	Circuit         health.Status `json:"circuit"`
	Signals         signals.Stats `json:"signals"`
}

func modelHealth(snap *config.Snapshot, name string) healthView {
	v := healthView{Object: "model.health", ID: name, Healthy: true, Signals: signals.Default.Stats(name)}
	v.CircuitBreaking = snap.File != nil && snap.File.Health.Enabled
	v.Circuit = health.Default.Status(name)
	if v.CircuitBreaking {
		v.Healthy = health.Default.Healthy(name)
	}
	return v
}
