package race

import (
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/signals"
)

// hedge is the hedging option: backups launch only after the primary has
// not answered within delay, at most max of them, and only while the
// budget allows.
type hedge struct {
	p95          bool          // delay is the primary's live p95
	delay        time.Duration // the fixed delay when !p95
	defaultDelay time.Duration // when the p95 is unknown
	max          int
	budget       budget
	signals      *signals.Registry
	now          func() time.Time
}

// delayFor returns the hedge delay for one request: the fixed delay, or
// the primary model's p95 (time to first token for a stream, latency
// otherwise) over the signals window, or the default delay when the
// primary is a subtree or has fewer than MinP95Samples attempts.
func (h *hedge) delayFor(primary *catalog.Model, stream bool) (time.Duration, string) {
	if !h.p95 {
		return h.delay, "fixed"
	}
	if primary == nil {
		return h.defaultDelay, "default (the primary is not one model)"
	}
	st := h.signals.Stats(primary.Name)
	p95 := st.LatencyP95MS
	if stream {
		p95 = st.TTFTP95MS
	}
	if st.Requests < MinP95Samples || p95 <= 0 {
		return h.defaultDelay, "default (too few samples for a p95)"
	}
	return time.Duration(p95 * float64(time.Millisecond)), "p95"
}

// budget is a sliding count of a node's requests and hedges over the last
// budgetWindow, in budgetSlots slots. A hedge is allowed while the hedges
// in the window, this one included, stay within share of the requests:
// during an outage every primary is slow, but only a share of requests
// can hedge, so the load cannot double.
type budget struct {
	share float64

	mu    sync.Mutex
	slots [budgetSlots]budgetSlot
}

const (
	budgetWindow = 10 * time.Second
	budgetSlots  = 10
)

type budgetSlot struct {
	epoch            int64 // slot number since the Unix epoch
	requests, hedges int64
}

func (b *budget) slot(now time.Time) *budgetSlot {
	epoch := now.UnixNano() / int64(budgetWindow/budgetSlots)
	s := &b.slots[epoch%budgetSlots]
	if s.epoch != epoch {
		*s = budgetSlot{epoch: epoch}
	}
	return s
}

func (b *budget) totals(now time.Time) (requests, hedges int64) {
	epoch := now.UnixNano() / int64(budgetWindow/budgetSlots)
	for i := range b.slots {
		if s := &b.slots[i]; epoch-s.epoch < budgetSlots {
			requests += s.requests
			hedges += s.hedges
		}
	}
	return requests, hedges
}

// request counts one request on the node.
func (b *budget) request(now time.Time) {
	b.mu.Lock()
	b.slot(now).requests++
	b.mu.Unlock()
}

// take reports whether one more hedge is within the budget, and counts it
// when it is.
func (b *budget) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	requests, hedges := b.totals(now)
	if float64(hedges+1) > b.share*float64(requests) {
		return false
	}
	b.slot(now).hedges++
	return true
}
