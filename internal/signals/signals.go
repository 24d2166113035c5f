package signals

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/sextant-router/sextant/internal/llm"
)

// Options tune a Registry. Zero values take the defaults.
type Options struct {
	Window   time.Duration // span of the sliding window; default 30s
	Slots    int           // slots in the window; default 30
	HalfLife time.Duration // of the EWMA latency; default 2s
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = 30 * time.Second
	}
	if o.Slots <= 0 {
		o.Slots = 30
	}
	if o.HalfLife <= 0 {
		o.HalfLife = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Result is one finished attempt.
type Result struct {
	Latency time.Duration // start to last byte (or to the failure)
	TTFT    time.Duration // start to first byte; 0 when none came
	// Class is the failure class (llm.Class.String()), "" on success.
	Class            string
	PromptTokens     int
	CompletionTokens int
	CostMicros       int64
	// RateLimit is the headroom the upstream reported with the attempt's
	// response (or its error), if it did; the latest known one is kept.
	RateLimit llm.RateLimit
}

// Stats is one model's signals over the window.
type Stats struct {
	Model         string           `json:"model"`
	WindowSeconds float64          `json:"window_seconds"`
	Requests      int64            `json:"requests"`
	Errors        int64            `json:"errors"`
	ErrorRate     float64          `json:"error_rate"`
	ErrorsByClass map[string]int64 `json:"errors_by_class,omitempty"`
	InFlight      int64            `json:"in_flight"`
	LatencyP50MS  float64          `json:"latency_p50_ms"`
	LatencyP95MS  float64          `json:"latency_p95_ms"`
	LatencyP99MS  float64          `json:"latency_p99_ms"`
	TTFTP50MS     float64          `json:"ttft_p50_ms"`
	TTFTP95MS     float64          `json:"ttft_p95_ms"`
	// LatencyEWMAMS is the exponentially weighted latency of successful
	// attempts (0 before the first).
	LatencyEWMAMS   float64 `json:"latency_ewma_ms"`
	TokensPerSecond float64 `json:"tokens_per_second"`
	// SpendUSD is the window's spend; SpendTotalUSD since the process
	// started.
	SpendUSD      float64 `json:"spend_usd"`
	SpendTotalUSD float64 `json:"spend_total_usd"`
	// Feedback is the mean feedback score by request category since
	// the process started (this replica's only).
	Feedback map[string]FeedbackMean `json:"feedback,omitempty"`
	// RateLimit is the latest rate-limit headroom the upstream reported,
	// nil before any report.
	RateLimit *Headroom `json:"rate_limit,omitempty"`
}

// Registry holds the signals of every model seen.
type Registry struct {
	opts   Options
	slot   time.Duration
	mu     sync.RWMutex
	models map[string]*model
	shared atomic.Pointer[sharedBox]
}

// Default is the process-wide registry the executor feeds.
var Default = New(Options{})

// New returns an empty registry.
func New(o Options) *Registry {
	o.defaults()
	slot := o.Window / time.Duration(o.Slots)
	if slot <= 0 {
		slot = time.Millisecond
	}
	return &Registry{opts: o, slot: slot, models: map[string]*model{}}
}

type slot struct {
	epoch      int64 // slot number since the Unix epoch; 0 = unused
	latency    *ddsketch.DDSketch
	ttft       *ddsketch.DDSketch
	requests   int64
	errors     map[string]int64
	genTokens  int64
	genSeconds float64
	cost       int64
}

type model struct {
	mu        sync.Mutex
	slots     []slot
	inFlight  int64
	ewma      float64 // ms
	ewmaAt    time.Time
	costTotal int64
	feedback  map[string]feedbackSum
	rateLimit rateLimit // latest report; at is zero before the first
}

func newSketch() *ddsketch.DDSketch {
	s, err := ddsketch.LogCollapsingLowestDenseDDSketch(0.01, 1024)
	if err != nil { // only on an invalid accuracy, which is a constant
		panic(err)
	}
	return s
}

func (r *Registry) model(name string) *model {
	r.mu.RLock()
	m := r.models[name]
	r.mu.RUnlock()
	if m != nil {
		return m
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m = r.models[name]; m == nil {
		m = &model{slots: make([]slot, r.opts.Slots)}
		r.models[name] = m
	}
	return m
}

// Begin counts one attempt on name in flight and returns the function that
// ends it; done must be called exactly once.
func (r *Registry) Begin(name string) (done func(Result)) {
	m := r.model(name)
	m.mu.Lock()
	m.inFlight++
	m.mu.Unlock()
	var once sync.Once
	return func(res Result) { once.Do(func() { r.finish(m, res) }) }
}

// Record adds a finished attempt that was never counted in flight.
func (r *Registry) Record(name string, res Result) {
	m := r.model(name)
	m.mu.Lock()
	m.inFlight++
	m.mu.Unlock()
	r.finish(m, res)
}

func ms(d time.Duration) float64 {
	v := float64(d) / float64(time.Millisecond)
	if v < 0 || math.IsNaN(v) {
		return 0
	}
	return v
}

func (r *Registry) finish(m *model, res Result) {
	now := r.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight--
	s := r.current(m, now)
	s.requests++
	s.cost += res.CostMicros
	m.costTotal += res.CostMicros
	if res.RateLimit.Known && !now.Before(m.rateLimit.at) {
		m.rateLimit = rateLimit{rl: res.RateLimit, at: now}
	}
	if res.Class != "" {
		if s.errors == nil {
			s.errors = map[string]int64{}
		}
		s.errors[res.Class]++
		return
	}
	lat := ms(res.Latency)
	_ = s.latency.Add(lat)
	if res.TTFT > 0 {
		_ = s.ttft.Add(ms(res.TTFT))
	}
	if gen := res.Latency - res.TTFT; res.CompletionTokens > 0 && gen > 0 {
		s.genTokens += int64(res.CompletionTokens)
		s.genSeconds += gen.Seconds()
	}
	if m.ewmaAt.IsZero() {
		m.ewma = lat
	} else {
		dt := now.Sub(m.ewmaAt)
		// Weight of the old average: 2^(-dt/halflife), but at most 0.9
		// so that a burst of completions at one instant still moves it.
		w := math.Min(math.Exp2(-float64(dt)/float64(r.opts.HalfLife)), 0.9)
		m.ewma = w*m.ewma + (1-w)*lat
	}
	m.ewmaAt = now
}

// current returns the slot for now, resetting it when it last held an
// older epoch. m.mu must be held.
func (r *Registry) current(m *model, now time.Time) *slot {
	epoch := now.UnixNano()/int64(r.slot) + 1
	s := &m.slots[int(epoch%int64(len(m.slots)))]
	if s.epoch != epoch {
		lat, ttft := s.latency, s.ttft
		if lat == nil {
			lat, ttft = newSketch(), newSketch()
		} else {
			lat.Clear()
			ttft.Clear()
		}
		*s = slot{epoch: epoch, latency: lat, ttft: ttft}
	}
	return s
}

func (r *Registry) local(name string) Stats {
	st := Stats{Model: name, WindowSeconds: r.opts.Window.Seconds()}
	r.mu.RLock()
	m := r.models[name]
	r.mu.RUnlock()
	if m == nil {
		return st
	}
	now := r.opts.Now()
	oldest := now.UnixNano()/int64(r.slot) + 1 - int64(len(m.slots)) + 1
	lat, ttft := newSketch(), newSketch()
	var genTokens int64
	var genSeconds float64
	var cost int64
	m.mu.Lock()
	st.InFlight = max(m.inFlight, 0)
	st.SpendTotalUSD = float64(m.costTotal) / 1e6
	st.Feedback = m.feedbackMeans()
	if !m.ewmaAt.IsZero() {
		st.LatencyEWMAMS = m.ewma
	}
	if !m.rateLimit.at.IsZero() {
		st.RateLimit = m.rateLimit.headroom(now)
	}
	for i := range m.slots {
		s := &m.slots[i]
		if s.epoch < oldest || s.epoch == 0 {
			continue
		}
		st.Requests += s.requests
		for c, n := range s.errors {
			if st.ErrorsByClass == nil {
				st.ErrorsByClass = map[string]int64{}
			}
			st.ErrorsByClass[c] += n
			st.Errors += n
		}
		_ = lat.MergeWith(s.latency)
		_ = ttft.MergeWith(s.ttft)
		genTokens += s.genTokens
		genSeconds += s.genSeconds
		cost += s.cost
	}
	m.mu.Unlock()
	if st.Requests > 0 {
		st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	}
	if !lat.IsEmpty() {
		q, _ := lat.GetValuesAtQuantiles([]float64{0.5, 0.95, 0.99})
		st.LatencyP50MS, st.LatencyP95MS, st.LatencyP99MS = q[0], q[1], q[2]
	}
	if !ttft.IsEmpty() {
		q, _ := ttft.GetValuesAtQuantiles([]float64{0.5, 0.95})
		st.TTFTP50MS, st.TTFTP95MS = q[0], q[1]
	}
	if genSeconds > 0 {
		st.TokensPerSecond = float64(genTokens) / genSeconds
	}
	st.SpendUSD = float64(cost) / 1e6
	return st
}

// Models lists the models seen, sorted.
func (r *Registry) Models() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.models))
	for k := range r.models {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
