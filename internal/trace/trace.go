// Package trace records what happened to one request: each policy node's
// decision and each model call attempt. A Trace is safe for concurrent use,
// since racing nodes record attempts from several goroutines.
package trace

import (
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
)

// Decision is what one policy node decided and why.
type Decision struct {
	Node     string         `json:"node"` // the node's config path, e.g. "routes.auto.rules"
	Kind     string         `json:"kind"`
	Decision string         `json:"decision"`
	Reason   string         `json:"reason,omitempty"`
	Data     map[string]any `json:"data,omitempty"`
	AtMS     float64        `json:"at_ms"` // since the request started
}

// Attempt outcomes.
const (
	OutcomeOK       = "ok"
	OutcomeError    = "error"
	OutcomeCanceled = "canceled"
	OutcomePending  = "pending"
)

// Attempt is one call to one model.
type Attempt struct {
	Model      string         `json:"model"`
	Provider   string         `json:"provider"`
	Try        int            `json:"try"` // 1 for the first try on this model
	Stream     bool           `json:"stream"`
	Outcome    string         `json:"outcome"`
	Status     int            `json:"status"` // HTTP-like status: 200, 429, 503, 499 ...
	ErrorClass string         `json:"error_class,omitempty"`
	Error      string         `json:"error,omitempty"`
	StartMS    float64        `json:"start_ms"`
	TTFTMS     float64        `json:"ttft_ms,omitempty"`
	LatencyMS  float64        `json:"latency_ms"`
	Usage      llm.Usage      `json:"usage"`
	CostMicros catalog.Micros `json:"cost_micros"`
	Finish     string         `json:"finish_reason,omitempty"`
}

// Trace is the record of one request.
type Trace struct {
	start time.Time

	mu        sync.Mutex
	decisions []Decision
	attempts  []Attempt
}

// New starts a trace at start.
func New(start time.Time) *Trace { return &Trace{start: start} }

// Start returns when the request started.
func (t *Trace) Start() time.Time { return t.start }

func (t *Trace) since(now time.Time) float64 { return Millis(now.Sub(t.start)) }

// Millis converts d to fractional milliseconds.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Decide records a node's decision.
func (t *Trace) Decide(d Decision) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d.AtMS = t.since(time.Now())
	t.decisions = append(t.decisions, d)
}

// Begin records the start of an attempt and returns its index for Finish.
func (t *Trace) Begin(a Attempt, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	a.StartMS = t.since(now)
	if a.Outcome == "" {
		a.Outcome = OutcomePending
	}
	t.attempts = append(t.attempts, a)
	return len(t.attempts) - 1
}

// Update changes attempt i under the trace's lock.
func (t *Trace) Update(i int, f func(*Attempt)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i >= 0 && i < len(t.attempts) {
		f(&t.attempts[i])
	}
}

// View is an immutable copy of a trace, for logs and the API.
type View struct {
	Decisions []Decision `json:"decisions"`
	Attempts  []Attempt  `json:"attempts"`
}

// Snapshot copies the trace.
func (t *Trace) Snapshot() View {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := View{
		Decisions: append([]Decision{}, t.decisions...),
		Attempts:  append([]Attempt{}, t.attempts...),
	}
	return v
}

// Totals returns the usage and cost summed over every attempt: what the
// request cost, including failed and abandoned attempts that used tokens.
func (t *Trace) Totals() (llm.Usage, catalog.Micros) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var u llm.Usage
	var c catalog.Micros
	for _, a := range t.attempts {
		u = u.Add(a.Usage)
		c += a.CostMicros
	}
	return u, c
}
