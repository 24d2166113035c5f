package bandit

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-router/sextant/internal/bandit"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/tally"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() { policy.Register(Kind, New) }

// Kind is the kind's name and the trace Kind of its decisions.
const Kind = "bandit"

// refreshEvery is how long a cached posterior is used before the
// statistics are read again when nothing changed them in this process: the
// delay after which additions by other replicas (through tally's sync)
// reach decisions here.
const refreshEvery = time.Second

// Node picks an arm per request with a contextual bandit and learns from
// what the request cost, how long it took and how good it was. Its
// configuration is immutable after New; its statistics live in tally
// vectors, its posterior cache and exploration window in memory.
type Node struct {
	path, id string
	alg      bandit.Algorithm
	alpha    float64
	feats    *featureSpec
	layout   bandit.Layout
	reward   bandit.Reward
	scale    bandit.Scale
	quality  string
	// gate, when set, judges every answer at gatesPath.
	gate      gate.Gate
	gatesPath string
	limiter   *bandit.Limiter
	minPulls  float64
	seed      uint64

	arms        []*arm
	priorWeight float64
	// context sums every x served (then a count): the prior's
	// pseudo-observations sit at its mean.
	context *tally.Vector

	rngMu sync.Mutex
	rng   *rand.Rand
	// rr round-robins cold arms.
	rr atomic.Uint64

	refreshMu sync.Mutex
	cache     atomic.Pointer[snapshot]
}

type arm struct {
	name, path string
	node       policy.Node
	stats      *tally.Vector
	// version counts this process's additions to stats (shared by every
	// node using the same key, e.g. across a reload).
	version *atomic.Uint64
	// prior is the reward of the prior's pseudo-observations, nil for
	// none.
	prior *float64
}

// snapshot is the posteriors computed from the statistics at one time.
type snapshot struct {
	posts    []*bandit.Posterior
	versions []uint64
	at       time.Time
	// bad lists arms whose statistics could not be used (NaN, not
	// positive definite); they are served from their prior alone.
	bad []bool
}

// versions maps a statistics key to its addition counter.
var versions sync.Map // string -> *atomic.Uint64

func versionOf(key string) *atomic.Uint64 {
	v, _ := versions.LoadOrStore(key, new(atomic.Uint64))
	return v.(*atomic.Uint64)
}

// StatsKey returns the tally key of an arm's statistics: it names the
// learner, the arm and the feature spec's shape, so a changed spec starts
// from fresh statistics.
func StatsKey(name, armName, shape string) string {
	return "bandit/" + url.PathEscape(name) + "/" + url.PathEscape(armName) + "/" + shape
}

// New builds a bandit node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	n := &Node{path: path}
	if err := n.configure(b, path, &cfg); err != nil {
		return nil, err
	}
	armsPath := conf.Join(path, "arms")
	if len(cfg.Arms) < 2 {
		return nil, conf.Errorf(armsPath, "at least two arms are required, got %d", len(cfg.Arms))
	}
	seen := map[string]bool{}
	for i, raw := range cfg.Arms {
		p := conf.Index(armsPath, i)
		name, apath, node, err := parseArm(b, p, raw)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, conf.Errorf(p, "duplicate arm name %q: name arms with {name: N, route: SUBTREE}", name)
		}
		seen[name] = true
		n.arms = append(n.arms, &arm{name: name, path: apath, node: node})
	}
	if err := n.configurePrior(b, path, cfg.Prior); err != nil {
		return nil, err
	}
	n.id = cfg.Name
	if n.id == "" {
		n.id = path
	}
	shape := n.feats.hash()
	for _, a := range n.arms {
		key := StatsKey(n.id, a.name, shape)
		v, err := tally.Default.Open(key, n.layout.Len())
		if err != nil {
			return nil, conf.Errorf(path, "statistics of arm %s: %v", a.name, err)
		}
		a.stats, a.version = v, versionOf(key)
	}
	ctxv, err := tally.Default.Open(StatsKey(n.id, "", shape)+"/context", n.feats.dim+1)
	if err != nil {
		return nil, conf.Errorf(path, "context statistics: %v", err)
	}
	n.context = ctxv
	n.rng = rand.New(rand.NewPCG(n.seed, 0x5eed_ba4d17))
	learning.Default.Offer(n.id, n)
	return n, nil
}

// ID returns the learner id: the configured name, else the node's path.
func (n *Node) ID() string { return n.id }

// Serve picks an arm, records why, and serves the request there.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	learning.Default.Claim(n.id, n)
	x, ferr := n.feats.vector(ctx, c)
	if x == nil {
		return nil, ferr // the context ended
	}
	snap := n.posteriors()
	est := make([]bandit.Estimate, len(n.arms))
	n.rngMu.Lock()
	for i, p := range snap.posts {
		est[i] = bandit.Score(n.alg, p, x, n.alpha, n.rng.NormFloat64)
	}
	n.rngMu.Unlock()
	i, explore, cold, reason := n.choose(est)
	a := n.arms[i]

	arms := make([]map[string]any, len(n.arms))
	for j, e := range est {
		m := map[string]any{"name": n.arms[j].name, "mean": e.Mean, "pulls": e.Pulls}
		if n.alg == bandit.LinUCB {
			m["ucb"] = e.Score
		} else {
			m["sd"], m["sample"] = e.SD, e.Score
		}
		if snap.bad[j] {
			m["stats_error"] = true // served from its prior alone
		}
		arms[j] = m
	}
	data := map[string]any{learning.DataKey: n.id, "arm": a.name, "arm_index": i, "algorithm": string(n.alg),
		"x": x, "arms": arms, "explore": explore}
	if cold {
		data["cold"] = true
	}
	if ferr != nil {
		data["feature_error"] = ferr.Error()
	}
	c.Trace.Decide(trace.Decision{Node: n.path, Kind: Kind, Decision: a.name, Reason: reason, Data: data})
	n.addContext(x)

	out, err := a.node.Serve(ctx, c)
	if err != nil || n.gate == nil || out == nil {
		return out, err
	}
	switch {
	case out.Stream != nil:
		out.Stream = &gatedStream{Stream: out.Stream, ctx: ctx, c: c, n: n, model: out.Model}
	case out.Response != nil:
		n.judge(ctx, c, out.Model, out.Response)
	}
	return out, nil
}

// choose picks the arm to serve from the arms' estimates.
func (n *Node) choose(est []bandit.Estimate) (i int, explore, cold bool, reason string) {
	if n.minPulls > 0 {
		var colds []int
		for j, e := range est {
			if e.Pulls < n.minPulls {
				colds = append(colds, j)
			}
		}
		if len(colds) > 0 {
			i = colds[(n.rr.Add(1)-1)%uint64(len(colds))]
			n.limiter.Admit(false)
			return i, false, true, fmt.Sprintf("cold arm: %.0f of min_pulls %.0f observations", est[i].Pulls, n.minPulls)
		}
	}
	best, greedy := bandit.Pick(est)
	explore = best != greedy
	if explore && !n.limiter.Admit(true) {
		return greedy, false, false, fmt.Sprintf("explore cap reached (%.0f%% of the last decisions explored): greedy arm, mean %.4g",
			100*n.limiter.Share(), est[greedy].Mean)
	}
	if !explore {
		n.limiter.Admit(false)
	}
	verb := "sampled"
	if n.alg == bandit.LinUCB {
		verb = "ucb"
	}
	reason = fmt.Sprintf("%s %.4g", verb, est[best].Score)
	if second := runnerUp(est, best); second >= 0 {
		reason += fmt.Sprintf(" > %.4g (%s)", est[second].Score, n.arms[second].name)
	}
	if explore {
		reason += fmt.Sprintf("; exploring, greedy arm is %s (mean %.4g > %.4g)", n.arms[greedy].name, est[greedy].Mean, est[best].Mean)
	}
	return best, explore, false, reason
}

// runnerUp returns the arm with the highest score other than best.
func runnerUp(est []bandit.Estimate, best int) int {
	r := -1
	for j, e := range est {
		if j != best && (r < 0 || e.Score > est[r].Score) {
			r = j
		}
	}
	return r
}

// posteriors returns the arms' posteriors, recomputing them when this
// process added to the statistics since, or refreshEvery passed. One
// goroutine recomputes; the others keep deciding with the previous ones.
func (n *Node) posteriors() *snapshot {
	s := n.cache.Load()
	if s != nil && n.fresh(s) {
		return s
	}
	if s == nil {
		n.refreshMu.Lock()
	} else if !n.refreshMu.TryLock() {
		return s
	}
	defer n.refreshMu.Unlock()
	if s2 := n.cache.Load(); s2 != nil && s2 != s && n.fresh(s2) {
		return s2
	}
	s = n.compute()
	n.cache.Store(s)
	return s
}

func (n *Node) fresh(s *snapshot) bool {
	for i, a := range n.arms {
		if a.version.Load() != s.versions[i] {
			return false
		}
	}
	return time.Since(s.at) < refreshEvery
}

// compute reads the statistics and computes every arm's posterior.
func (n *Node) compute() *snapshot {
	s := &snapshot{posts: make([]*bandit.Posterior, len(n.arms)), versions: make([]uint64, len(n.arms)),
		bad: make([]bool, len(n.arms)), at: time.Now()}
	for i, a := range n.arms {
		// Read the version first: an addition racing with the read below
		// bumps it past this value, so the next decision refreshes.
		s.versions[i] = a.version.Load()
	}
	at := n.meanContext()
	for i, a := range n.arms {
		prior := bandit.Prior{At: at}
		if a.prior != nil {
			prior.Weight, prior.Reward = n.priorWeight, *a.prior
		}
		p, err := bandit.NewPosterior(n.layout, a.stats.Values(nil), prior)
		if err != nil {
			s.bad[i] = true
			p, err = bandit.NewPosterior(n.layout, nil, prior)
		}
		if err != nil { // unreachable: zero statistics with a positive ridge
			p = &bandit.Posterior{D: n.layout.D, Theta: make([]float64, n.layout.D), Cov: identity(n.layout.D), Noise: 0.25}
		}
		s.posts[i] = p
	}
	return s
}

func identity(d int) []float64 {
	m := make([]float64, d*d)
	for i := range d {
		m[i*d+i] = 1
	}
	return m
}

// meanContext returns the mean x served so far, or the bias-only context
// before any.
func (n *Node) meanContext() []float64 {
	v := n.context.Values(nil)
	d := n.feats.dim
	at := make([]float64, d)
	if cnt := v[d]; cnt > 0 {
		for i := range d {
			at[i] = v[i] / cnt
		}
	} else {
		at[0] = 1
	}
	return at
}

func (n *Node) addContext(x []float64) {
	delta := make([]float64, len(x)+1)
	copy(delta, x)
	delta[len(x)] = 1
	n.context.Add(delta)
}

// judge runs the node's gates on a whole answer and records the verdict
// under gatesPath. A request whose context ended is not judged: a
// verdict cut short says nothing of the arm.
func (n *Node) judge(ctx context.Context, c *policy.Call, model string, resp *llm.Response) {
	if ctx.Err() != nil {
		return
	}
	v := gate.Run(ctx, c, n.gate, &gate.Answer{Model: model, Request: c.Request, Response: resp})
	if ctx.Err() != nil {
		return
	}
	gate.Record(c, n.gatesPath, v)
}

var (
	_ policy.Node      = (*Node)(nil)
	_ learning.Learner = (*Node)(nil)
)
