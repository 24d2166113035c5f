package health

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
)

// State is a circuit's state.
type State int

// The circuit states.
const (
	Closed State = iota
	Open
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "closed"
}

// Options tune the breakers. Zero values take the defaults.
type Options struct {
	ConsecutiveFailures int           // default 5
	ErrorRate           float64       // default 0.5
	MinRequests         int           // default 20
	Window              time.Duration // default 10s
	Cooldown            time.Duration // default 5s
	MaxCooldown         time.Duration // default 60s
	Probes              int           // concurrent half-open probes; default 1
	Now                 func() time.Time
	Log                 *slog.Logger // default slog.Default()
}

func (o *Options) defaults() {
	if o.ConsecutiveFailures <= 0 {
		o.ConsecutiveFailures = 5
	}
	if o.ErrorRate <= 0 || o.ErrorRate > 1 {
		o.ErrorRate = 0.5
	}
	if o.MinRequests <= 0 {
		o.MinRequests = 20
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	if o.Cooldown <= 0 {
		o.Cooldown = 5 * time.Second
	}
	if o.MaxCooldown < o.Cooldown {
		o.MaxCooldown = max(60*time.Second, o.Cooldown)
	}
	if o.Probes <= 0 {
		o.Probes = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Outcome is one attempt as the breaker sees it.
type Outcome struct {
	// Failure is an upstream failure (transient, timeout, rate limit).
	Failure bool
	// Neutral is neither (the caller's error, a cancellation); it only
	// frees a half-open probe slot.
	Neutral    bool
	RetryAfter time.Duration
}

// Status is one circuit as reported.
type Status struct {
	Model               string    `json:"model"`
	State               string    `json:"state"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	OpenUntil           time.Time `json:"open_until,omitzero"`
	Trips               int64     `json:"trips"`
}

// Transition is one state change.
type Transition struct {
	Model    string
	From, To State
	Reason   string
}

// Breakers holds one circuit per model.
type Breakers struct {
	opts Options
	mu   sync.Mutex
	m    map[string]*circuit
	// counts[model][from→to]
	counts    map[string]map[[2]State]int64
	listeners []func(Transition)
	shared    Shared
}

// Shared spreads trips between replicas (internal/state's Redis). Trip is
// told of every local trip and must not block; OpenUntil returns when a
// peer's trip of model ends (zero when none) from a cache.
type Shared interface {
	Trip(model string, until time.Time)
	OpenUntil(model string) time.Time
}

// SetShared makes b publish its trips to s and honour its peers' trips;
// nil stops it.
func (b *Breakers) SetShared(s Shared) {
	b.mu.Lock()
	b.shared = s
	b.mu.Unlock()
}

// peer opens a closed circuit that a peer replica tripped. b.mu must be
// held.
func (b *Breakers) peer(model string, c *circuit, now time.Time) []Transition {
	if b.shared == nil || c.state != Closed {
		return nil
	}
	until := b.shared.OpenUntil(model)
	if !now.Before(until) {
		return nil
	}
	c.until = until
	c.trips++
	return []Transition{b.move(model, c, Open, "tripped by a peer replica")}
}

type circuit struct {
	state       State
	consecutive int
	until       time.Time
	cooldown    time.Duration
	probing     int
	trips       int64
	// per-second buckets over the window: [epoch, total, failures]
	buckets [][3]int64
}

// Default is the process-wide set of breakers.
var Default = New(Options{})

// New returns breakers with all circuits closed.
func New(o Options) *Breakers {
	o.defaults()
	return &Breakers{opts: o, m: map[string]*circuit{}, counts: map[string]map[[2]State]int64{}}
}

// Listen registers f to be told of every state change, synchronously and
// outside the breakers' lock; f must be fast.
func (b *Breakers) Listen(f func(Transition)) {
	b.mu.Lock()
	b.listeners = append(b.listeners, f)
	b.mu.Unlock()
}

func (b *Breakers) get(model string) *circuit {
	c := b.m[model]
	if c == nil {
		n := int(b.opts.Window / time.Second)
		c = &circuit{buckets: make([][3]int64, max(n, 1)), cooldown: b.opts.Cooldown}
		b.m[model] = c
	}
	return c
}

// Healthy reports whether model would take a call now without using up a
// probe: closed, or open with its cooldown over (half open, probe free).
func (b *Breakers) Healthy(model string) bool {
	b.mu.Lock()
	c := b.get(model)
	now := b.opts.Now()
	tr := b.peer(model, c, now)
	ok := true
	switch c.state {
	case Open:
		ok = !now.Before(c.until)
	case HalfOpen:
		ok = c.probing < b.opts.Probes
	}
	b.mu.Unlock()
	b.notify(tr)
	return ok
}

// Allow reports whether a call to model may go ahead now. When it turns an
// open circuit half open or takes a probe slot, the caller must Report
// the call's outcome.
func (b *Breakers) Allow(model string) bool {
	b.mu.Lock()
	c := b.get(model)
	tr := b.peer(model, c, b.opts.Now())
	ok := true
	switch c.state {
	case Open:
		if b.opts.Now().Before(c.until) {
			ok = false
			break
		}
		tr = append(tr, b.move(model, c, HalfOpen, "cooldown over"))
		c.probing = 1
	case HalfOpen:
		if c.probing >= b.opts.Probes {
			ok = false
			break
		}
		c.probing++
	}
	b.mu.Unlock()
	b.notify(tr)
	return ok
}

// Report records one attempt's outcome on model.
func (b *Breakers) Report(model string, o Outcome) {
	var tr []Transition
	now := b.opts.Now()
	b.mu.Lock()
	c := b.get(model)
	if c.state == HalfOpen && c.probing > 0 {
		c.probing--
	}
	if o.Neutral {
		b.mu.Unlock()
		return
	}
	epoch := now.Unix()
	bk := &c.buckets[int(epoch%int64(len(c.buckets)))]
	if bk[0] != epoch {
		*bk = [3]int64{epoch, 0, 0}
	}
	bk[1]++
	if o.Failure {
		bk[2]++
		c.consecutive++
	} else {
		c.consecutive = 0
	}
	switch {
	case c.state == HalfOpen && o.Failure:
		c.cooldown = min(c.cooldown*2, b.opts.MaxCooldown)
		tr = append(tr, b.trip(model, c, now, o.RetryAfter, "probe failed"))
	case c.state == HalfOpen:
		c.cooldown = b.opts.Cooldown
		c.probing = 0
		tr = append(tr, b.move(model, c, Closed, "probe succeeded"))
	case c.state == Closed && o.Failure:
		if c.consecutive >= b.opts.ConsecutiveFailures {
			tr = append(tr, b.trip(model, c, now, o.RetryAfter, "consecutive failures"))
		} else if total, fails := c.window(epoch, len(c.buckets)); total >= int64(b.opts.MinRequests) &&
			float64(fails) >= b.opts.ErrorRate*float64(total) {
			tr = append(tr, b.trip(model, c, now, o.RetryAfter, "error rate"))
		}
	case c.state == Open && o.Failure && o.RetryAfter > 0:
		// A straggler's Retry-After can only lengthen the cooldown.
		if u := now.Add(o.RetryAfter); u.After(c.until) {
			c.until = u
		}
	}
	b.mu.Unlock()
	b.notify(tr)
}

func (c *circuit) window(epoch int64, n int) (total, fails int64) {
	for _, bk := range c.buckets {
		if bk[0] > epoch-int64(n) {
			total += bk[1]
			fails += bk[2]
		}
	}
	return total, fails
}

func (b *Breakers) trip(model string, c *circuit, now time.Time, retryAfter time.Duration, reason string) Transition {
	cd := max(c.cooldown, retryAfter)
	c.until = now.Add(cd)
	c.trips++
	c.probing = 0
	for i := range c.buckets {
		c.buckets[i] = [3]int64{}
	}
	if b.shared != nil {
		b.shared.Trip(model, c.until)
	}
	return b.move(model, c, Open, reason)
}

func (b *Breakers) move(model string, c *circuit, to State, reason string) Transition {
	t := Transition{Model: model, From: c.state, To: to, Reason: reason}
	c.state = to
	if to == Closed {
		c.consecutive = 0
	}
	cm := b.counts[model]
	if cm == nil {
		cm = map[[2]State]int64{}
		b.counts[model] = cm
	}
	cm[[2]State{t.From, to}]++
	return t
}

func (b *Breakers) notify(tr []Transition) {
	if len(tr) == 0 {
		return
	}
	log := b.opts.Log
	if log == nil {
		log = slog.Default()
	}
	b.mu.Lock()
	ls := b.listeners
	b.mu.Unlock()
	for _, t := range tr {
		log.Info("circuit state", "model", t.Model, "from", t.From.String(), "to", t.To.String(), "reason", t.Reason)
		for _, f := range ls {
			f(t)
		}
	}
}

// Status returns model's circuit.
func (b *Breakers) Status(model string) Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := Status{Model: model, State: Closed.String()}
	if c := b.m[model]; c != nil {
		st.State, st.ConsecutiveFailures, st.Trips = c.state.String(), c.consecutive, c.trips
		if c.state == Open {
			st.OpenUntil = c.until
		}
	}
	return st
}

// All returns every circuit seen, sorted by model.
func (b *Breakers) All() []Status {
	b.mu.Lock()
	names := make([]string, 0, len(b.m))
	for k := range b.m {
		names = append(names, k)
	}
	b.mu.Unlock()
	sort.Strings(names)
	out := make([]Status, len(names))
	for i, n := range names {
		out[i] = b.Status(n)
	}
	return out
}

// Transitions returns how often model's circuit went from one state to
// another.
func (b *Breakers) Transitions(model string) map[[2]State]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[[2]State]int64{}
	for k, v := range b.counts[model] {
		out[k] = v
	}
	return out
}

type panicKey struct{}

// WithPanic marks ctx as routed in panic mode: every candidate looked
// down, so open circuits are ignored for this request.
func WithPanic(ctx context.Context) context.Context {
	return context.WithValue(ctx, panicKey{}, true)
}

// InPanic reports whether ctx was marked by WithPanic.
func InPanic(ctx context.Context) bool {
	v, _ := ctx.Value(panicKey{}).(bool)
	return v
}

// Config is the config file's health block.
type Config struct {
	// Enabled turns circuit breaking on; default off, so a model is
	// always tried.
	Enabled             bool          `json:"enabled"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	ErrorRate           float64       `json:"error_rate"`
	MinRequests         int           `json:"min_requests"`
	Window              conf.Duration `json:"window"`
	Cooldown            conf.Duration `json:"cooldown"`
	MaxCooldown         conf.Duration `json:"max_cooldown"`
	Probes              int           `json:"probes"`
}

// Validate checks c, found at path.
func (c *Config) Validate(path string) error {
	switch {
	case c.ConsecutiveFailures < 0:
		return conf.Errorf(conf.Join(path, "consecutive_failures"), "must be at least 0 (0 takes the default 5)")
	case c.ErrorRate < 0 || c.ErrorRate > 1:
		return conf.Errorf(conf.Join(path, "error_rate"), "must be between 0 and 1, got %v", c.ErrorRate)
	case c.MinRequests < 0:
		return conf.Errorf(conf.Join(path, "min_requests"), "must be at least 0")
	case c.Window < 0:
		return conf.Errorf(conf.Join(path, "window"), "must not be negative")
	case c.Cooldown < 0:
		return conf.Errorf(conf.Join(path, "cooldown"), "must not be negative")
	case c.MaxCooldown < 0 || (c.MaxCooldown > 0 && c.MaxCooldown < c.Cooldown):
		return conf.Errorf(conf.Join(path, "max_cooldown"), "must not be below cooldown")
	case c.Probes < 0:
		return conf.Errorf(conf.Join(path, "probes"), "must be at least 0")
	}
	return nil
}

// Configure replaces b's thresholds with c's (defaults filled), keeping
// every circuit's state; a reload calls it.
func (b *Breakers) Configure(c Config) {
	o := Options{ConsecutiveFailures: c.ConsecutiveFailures, ErrorRate: c.ErrorRate, MinRequests: c.MinRequests,
		Window: c.Window.D(), Cooldown: c.Cooldown.D(), MaxCooldown: c.MaxCooldown.D(), Probes: c.Probes}
	b.mu.Lock()
	defer b.mu.Unlock()
	o.Now, o.Log = b.opts.Now, b.opts.Log
	o.defaults()
	if int(o.Window/time.Second) != int(b.opts.Window/time.Second) {
		for _, c := range b.m {
			c.buckets = make([][3]int64, max(int(o.Window/time.Second), 1))
		}
	}
	b.opts = o
}
