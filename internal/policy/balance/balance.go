package balance

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/state"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() { policy.Register("balance", New) }

// Strategies.
const (
	Score     = "score"
	Latency   = "latency"
	P95       = "p95"
	TTFT      = "ttft"
	LeastBusy = "least_busy"
	Cost      = "cost"
	Weight    = "weight"
)

var strategies = []string{Score, Latency, P95, TTFT, LeastBusy, Cost, Weight}

// Sticky keys.
const (
	StickyNone    = "none"
	StickySession = "session"
	StickyUser    = "user"
	StickyPrefix  = "prefix"
)

// Node balances between candidate models. It is immutable after New.
type Node struct {
	path        string
	strategy    string
	cands       []cand
	explore     float64
	maxAttempts int
	sticky      string
	stickyTTL   time.Duration

	// Hooks for tests; nil means the defaults.
	sig  *signals.Registry
	brk  *health.Breakers
	rand func() float64
	kv   state.KV
}

type cand struct {
	name   string
	model  *catalog.Model
	weight float64
}

type config struct {
	Candidates  []string           `json:"candidates"`
	Strategy    string             `json:"strategy"`
	Weights     map[string]float64 `json:"weights"`
	Explore     *float64           `json:"explore"`
	MaxAttempts int                `json:"max_attempts"`
	Sticky      string             `json:"sticky"`
	StickyTTL   conf.Duration      `json:"sticky_ttl"`
}

// New builds a balance node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	n := &Node{path: path, strategy: cfg.Strategy, explore: 0.05, sticky: cfg.Sticky, stickyTTL: cfg.StickyTTL.D()}
	if n.strategy == "" {
		n.strategy = Score
	}
	if !slices.Contains(strategies, n.strategy) {
		return nil, conf.Errorf(conf.Join(path, "strategy"), "unknown strategy %q (known: %v)", cfg.Strategy, strategies)
	}
	if len(cfg.Candidates) == 0 {
		return nil, conf.Errorf(conf.Join(path, "candidates"), "at least one model is required")
	}
	seen := map[string]bool{}
	for i, name := range cfg.Candidates {
		p := conf.Index(conf.Join(path, "candidates"), i)
		m, ok := b.Model(name)
		if !ok {
			return nil, conf.Errorf(p, "unknown model %q (candidates are catalog model names)", name)
		}
		if seen[name] {
			return nil, conf.Errorf(p, "duplicate candidate %q", name)
		}
		seen[name] = true
		n.cands = append(n.cands, cand{name: name, model: m, weight: 1})
	}
	for _, name := range sortedKeys(cfg.Weights) {
		w := cfg.Weights[name]
		p := conf.Join(conf.Join(path, "weights"), name)
		if !seen[name] {
			return nil, conf.Errorf(p, "%q is not a candidate", name)
		}
		if !(w > 0 && w <= 1e6) {
			return nil, conf.Errorf(p, "must be in (0, 1e6], got %v", w)
		}
		for i := range n.cands {
			if n.cands[i].name == name {
				n.cands[i].weight = w
			}
		}
	}
	if cfg.Explore != nil {
		if e := *cfg.Explore; !(e >= 0 && e <= 1) {
			return nil, conf.Errorf(conf.Join(path, "explore"), "must be in [0,1], got %v", e)
		}
		n.explore = *cfg.Explore
	}
	n.maxAttempts = len(n.cands)
	if cfg.MaxAttempts < 0 {
		return nil, conf.Errorf(conf.Join(path, "max_attempts"), "must be at least 1")
	}
	if cfg.MaxAttempts > 0 {
		n.maxAttempts = min(cfg.MaxAttempts, len(n.cands))
	}
	switch n.sticky {
	case "":
		n.sticky = StickyNone
	case StickyNone, StickySession, StickyUser, StickyPrefix:
	default:
		return nil, conf.Errorf(conf.Join(path, "sticky"), "unknown sticky key %q (want none, session, user or prefix)", cfg.Sticky)
	}
	if n.stickyTTL < 0 {
		return nil, conf.Errorf(conf.Join(path, "sticky_ttl"), "must not be negative")
	}
	if n.stickyTTL == 0 {
		n.stickyTTL = 30 * time.Minute
	}
	return n, nil
}

func (n *Node) signals() *signals.Registry {
	if n.sig != nil {
		return n.sig
	}
	return signals.Default
}

func (n *Node) breakers() *health.Breakers {
	if n.brk != nil {
		return n.brk
	}
	return health.Default
}

func (n *Node) rnd() float64 {
	if n.rand != nil {
		return n.rand()
	}
	return rand.Float64()
}

func (n *Node) store() state.KV {
	if n.kv != nil {
		return n.kv
	}
	// Shared by every balance node of the process (and with Redis
	// configured, by every replica) so that a reload keeps sessions where
	// they were; keys include the node's path.
	return state.DefaultKV()
}

// Serve picks a candidate, calls it, and fails over to the next best on a
// failure that allows it.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	fit, why := n.fitting(c)
	if len(fit) == 0 {
		c.Trace.Decide(trace.Decision{Node: n.path, Kind: "balance", Decision: "none", Reason: why})
		return nil, &llm.Error{Status: http.StatusBadRequest, Type: llm.TypeInvalidRequest, Code: "no_capable_model",
			Message: "no model of this route can serve the request: " + why, Class: llm.ClassCaller}
	}
	key := n.stickyKey(c)
	tried := map[string]bool{}
	var last error
	for attempt := 0; attempt < n.maxAttempts; attempt++ {
		left := make([]cand, 0, len(fit))
		for _, cd := range fit {
			if !tried[cd.name] {
				left = append(left, cd)
			}
		}
		if len(left) == 0 {
			break
		}
		pick, reason, panicMode := n.choose(c, left, key, attempt)
		tried[pick.name] = true
		data := map[string]any{"strategy": n.strategy, "attempt": attempt + 1}
		if panicMode {
			data["panic"] = true
		}
		c.Trace.Decide(trace.Decision{Node: n.path, Kind: "balance", Decision: pick.name, Reason: reason, Data: data})
		cctx := ctx
		if panicMode {
			cctx = health.WithPanic(ctx)
		}
		out, err := c.Exec.Call(cctx, c, pick.name, c.Request)
		if err == nil {
			if key != "" {
				n.store().Set(key, pick.name, n.stickyTTL)
			}
			return out, nil
		}
		last = err
		if !llm.ClassOf(err).FailOver() || ctx.Err() != nil {
			return nil, err
		}
		c.Trace.Decide(trace.Decision{Node: n.path, Kind: "balance", Decision: "fail over",
			Reason: fmt.Sprintf("%s failed (%s): %s", pick.name, llm.ClassOf(err), llm.AsError(err).Message)})
	}
	return nil, last
}

// fitting returns the candidates that can serve the request: context
// window and capabilities. why explains an empty result.
func (n *Node) fitting(c *policy.Call) ([]cand, string) {
	f := c.Features()
	need := f.Tokens
	if f.MaxTokens > 0 {
		need += f.MaxTokens
	}
	var caps []catalog.Capability
	if f.Tools > 0 {
		caps = append(caps, catalog.CapTools)
	}
	if f.JSON {
		caps = append(caps, catalog.CapJSON)
	}
	if f.Images > 0 {
		caps = append(caps, catalog.CapVision)
	}
	out := make([]cand, 0, len(n.cands))
	var reasons []string
	for _, cd := range n.cands {
		if w := cd.model.ContextWindow; w > 0 && need > w {
			reasons = append(reasons, fmt.Sprintf("%s: %d tokens exceed its context window %d", cd.name, need, w))
			continue
		}
		missing := ""
		for _, cp := range caps {
			if !cd.model.Has(cp) {
				missing = string(cp)
				break
			}
		}
		if missing != "" {
			reasons = append(reasons, fmt.Sprintf("%s: lacks %s", cd.name, missing))
			continue
		}
		out = append(out, cd)
	}
	why := ""
	if len(out) == 0 {
		why = fmt.Sprint(reasons)
	}
	return out, why
}

// choose picks among left (non-empty): the sticky model when it is
// healthy, else by strategy among the healthy ones, in panic mode among
// all.
func (n *Node) choose(c *policy.Call, left []cand, key string, attempt int) (cand, string, bool) {
	brk := n.breakers()
	healthy := make([]cand, 0, len(left))
	for _, cd := range left {
		if brk.Healthy(cd.name) {
			healthy = append(healthy, cd)
		}
	}
	panicMode := len(healthy) == 0
	if panicMode {
		healthy = left
	}
	if key != "" && attempt == 0 {
		if m, ok := n.store().Get(key); ok {
			for _, cd := range healthy {
				if cd.name == m && !panicMode {
					return cd, "sticky " + n.sticky, false
				}
			}
		}
	}
	prefix := ""
	if panicMode {
		prefix = "panic (every candidate's circuit is open): "
	}
	if len(healthy) == 1 {
		return healthy[0], prefix + "only candidate left", panicMode
	}
	if n.explore > 0 && n.rnd() < n.explore {
		i := min(int(n.rnd()*float64(len(healthy))), len(healthy)-1)
		return healthy[i], prefix + "explore", panicMode
	}
	stats := make([]signals.Stats, len(healthy))
	for i, cd := range healthy {
		stats[i] = n.signals().Stats(cd.name)
	}
	var i int
	var reason string
	switch n.strategy {
	case Score:
		i, reason = n.p2c(healthy, stats)
	case Weight:
		i = n.weighted(healthy, -1)
		reason = "weighted random"
	default:
		i, reason = n.lowest(healthy, stats)
	}
	return healthy[i], prefix + reason, panicMode
}

// score is a candidate's combined cost of choosing it: expected latency
// inflated by its queue, over its weight.
func score(cd cand, st signals.Stats, fallbackMS float64) float64 {
	lat := st.LatencyEWMAMS
	if lat <= 0 {
		lat = fallbackMS
	}
	return math.Max(lat, 1) * float64(1+st.InFlight) / cd.weight
}

func (n *Node) p2c(cs []cand, stats []signals.Stats) (int, string) {
	fallback := math.Inf(1)
	for _, st := range stats {
		if st.LatencyEWMAMS > 0 {
			fallback = math.Min(fallback, st.LatencyEWMAMS)
		}
	}
	if math.IsInf(fallback, 1) {
		fallback = 1
	}
	a := n.weighted(cs, -1)
	b := n.weighted(cs, a)
	sa, sb := score(cs[a], stats[a], fallback), score(cs[b], stats[b], fallback)
	win, lose, sw, sl := a, b, sa, sb
	if sb < sa {
		win, lose, sw, sl = b, a, sb, sa
	}
	return win, fmt.Sprintf("p2c: score %.0f beat %s's %.0f", sw, cs[lose].name, sl)
}

// weighted draws an index in proportion to weight, never skip (-1 for
// none). cs must have an index other than skip.
func (n *Node) weighted(cs []cand, skip int) int {
	total := 0.0
	for i, cd := range cs {
		if i != skip {
			total += cd.weight
		}
	}
	r := n.rnd() * total
	last := -1
	for i, cd := range cs {
		if i == skip {
			continue
		}
		last = i
		if r < cd.weight {
			return i
		}
		r -= cd.weight
	}
	return last
}

func (n *Node) lowest(cs []cand, stats []signals.Stats) (int, string) {
	metric := func(i int) float64 {
		st := stats[i]
		switch n.strategy {
		case Latency:
			if st.LatencyP50MS == 0 {
				return -1
			}
			return st.LatencyP50MS
		case P95:
			if st.LatencyP95MS == 0 {
				return -1
			}
			return st.LatencyP95MS
		case TTFT:
			if st.TTFTP50MS == 0 {
				return -1
			}
			return st.TTFTP50MS
		case LeastBusy:
			return float64(st.InFlight) / cs[i].weight
		case Cost:
			return cs[i].model.Price.Input.USD() + cs[i].model.Price.Output.USD()
		}
		return 0
	}
	best, bestV := 0, metric(0)
	for i := 1; i < len(cs); i++ {
		v := metric(i)
		if v < bestV || (v == bestV && cs[i].weight > cs[best].weight) {
			best, bestV = i, v
		}
	}
	if bestV < 0 {
		return best, "no samples yet"
	}
	return best, fmt.Sprintf("lowest %s: %s", n.strategy, strconv.FormatFloat(bestV, 'f', 1, 64))
}

// stickyKey returns the store key of the request's session, "" when
// stickiness is off or the request has no such key.
func (n *Node) stickyKey(c *policy.Call) string {
	var k string
	switch n.sticky {
	case StickySession:
		k = c.Caller.Session
		if k == "" && c.Request.User != "" {
			k = "user:" + c.Request.User
		}
	case StickyUser:
		k = c.Request.User
		if k == "" {
			k = c.Caller.Key
		}
	case StickyPrefix:
		h := fnv.New64a()
		users := 0
		for _, m := range c.Request.Messages {
			if m.Role == llm.RoleUser {
				if users++; users > 1 {
					break
				}
			}
			h.Write([]byte(m.Role))
			h.Write([]byte{0})
			h.Write([]byte(m.Content))
			h.Write([]byte{0})
		}
		if users > 0 {
			k = strconv.FormatUint(h.Sum64(), 16)
		}
	}
	if k == "" {
		return ""
	}
	return "balance\x00" + n.path + "\x00" + c.Caller.Key + "\x00" + k
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ policy.Node = (*Node)(nil)
