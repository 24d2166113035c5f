package classify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sextant-router/sextant/internal/catalog"
	cls "github.com/sextant-router/sextant/internal/classify"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/eval/knob"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() {
	policy.Register("classify", New)
	knob.Register("classify", knob.Spec{Field: "min_confidence", Min: 0, Max: 1, Default: knob.Range(0, 1, 51)})
}

// DefaultMinConfidence is min_confidence when the config leaves it out.
const DefaultMinConfidence = 0.6

// FallbackRoute is the route name the trace gives the fallback subtree.
const FallbackRoute = "fallback"

// Node classifies each request and serves it with its label's subtree.
// It is immutable after New.
type Node struct {
	path          string
	classifier    cls.Classifier
	routes        []policy.Node // by label index; nil: the label has no route
	minConfidence float64
	fallback      policy.Node
	fallbackName  string // the fallback's description for traces
}

type config struct {
	Classifier    json.RawMessage            `json:"classifier"`
	Routes        map[string]json.RawMessage `json:"routes"`
	MinConfidence *float64                   `json:"min_confidence"`
	Fallback      json.RawMessage            `json:"fallback"`
}

// New builds a classify node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	if cfg.Classifier == nil {
		return nil, conf.Errorf(conf.Join(path, "classifier"), "required: rules or model")
	}
	c, err := cls.New(b, conf.Join(path, "classifier"), cfg.Classifier)
	if err != nil {
		return nil, err
	}
	n := &Node{path: path, classifier: c, minConfidence: DefaultMinConfidence}
	if v := cfg.MinConfidence; v != nil {
		if !(*v >= 0 && *v <= 1) {
			return nil, conf.Errorf(conf.Join(path, "min_confidence"), "must be in [0,1], got %v", *v)
		}
		n.minConfidence = *v
	}
	routesPath := conf.Join(path, "routes")
	if len(cfg.Routes) == 0 {
		return nil, conf.Errorf(routesPath, "required: a mapping from labels (%s) to routes", strings.Join(c.Labels(), ", "))
	}
	labels := c.Labels()
	n.routes = make([]policy.Node, len(labels))
	var models []string // the routes' models, when every route is one
	plain := true
	for _, label := range sortedKeys(cfg.Routes) {
		p := conf.Join(routesPath, label)
		i := slices.Index(labels, label)
		if i < 0 {
			return nil, conf.Errorf(p, "%q is not a label of %s (labels: %s)", label, c.Name(), strings.Join(labels, ", "))
		}
		node, err := b.Build(p, cfg.Routes[label])
		if err != nil {
			return nil, err
		}
		n.routes[i] = node
		var name string
		if json.Unmarshal(cfg.Routes[label], &name) == nil {
			models = append(models, name)
		} else {
			plain = false
		}
	}
	fbPath := conf.Join(path, "fallback")
	switch {
	case cfg.Fallback != nil:
		node, err := b.Build(fbPath, cfg.Fallback)
		if err != nil {
			return nil, err
		}
		n.fallback = node
		n.fallbackName = policy.Describe(cfg.Fallback)
	case !plain:
		return nil, conf.Errorf(fbPath, "required when a route is not a plain model name (the default fallback is the most expensive of the routes' models)")
	default:
		name := mostExpensive(b, models)
		node, err := b.Build(fbPath, json.RawMessage(fmt.Appendf(nil, "%q", name)))
		if err != nil {
			return nil, err
		}
		n.fallback, n.fallbackName = node, name
	}
	return n, nil
}

// mostExpensive returns the model of names with the highest price per
// token (input plus output rate), the first of equals in name order.
func mostExpensive(b policy.Builder, names []string) string {
	names = slices.Clone(names)
	sort.Strings(names)
	best, bestPrice := "", catalog.Rate(-1)
	for _, name := range names {
		m, ok := b.Model(name)
		if !ok {
			continue // Build has rejected it already
		}
		if p := m.Price.Input + m.Price.Output; p > bestPrice {
			best, bestPrice = name, p
		}
	}
	return best
}

// Serve classifies the request and serves it with the label's route, or
// with the fallback when the classification is missing, unmapped or not
// confident enough.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	res, err := n.classifier.Classify(ctx, c)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.Trace.Decide(trace.Decision{Node: n.path, Kind: "classify", Decision: FallbackRoute,
			Reason: "no classification: " + err.Error(),
			Data:   map[string]any{"classifier": n.classifier.Name(), "route": FallbackRoute, "fallback": n.fallbackName}})
		return n.fallback.Serve(ctx, c)
	}
	route, node, reason := n.choose(res)
	c.Trace.Decide(trace.Decision{Node: n.path, Kind: "classify", Decision: route, Reason: reason,
		Data: map[string]any{
			"classifier":     n.classifier.Name(),
			"label":          res.Label,
			"prob":           res.Prob,
			"probs":          res.ProbMap(),
			"min_confidence": n.minConfidence,
			"route":          route,
		}})
	return node.Serve(ctx, c)
}

// choose returns the route for res — its label, or FallbackRoute — with
// its node and the reason.
func (n *Node) choose(res cls.Result) (string, policy.Node, string) {
	switch {
	case res.Prob < n.minConfidence:
		return FallbackRoute, n.fallback, fmt.Sprintf("%s p=%.3f below min_confidence %v, so fallback %s; %s",
			res.Label, res.Prob, n.minConfidence, n.fallbackName, res.Reason)
	case n.routes[res.Index] == nil:
		return FallbackRoute, n.fallback, fmt.Sprintf("%s p=%.3f has no route, so fallback %s; %s",
			res.Label, res.Prob, n.fallbackName, res.Reason)
	}
	return res.Label, n.routes[res.Index], fmt.Sprintf("%s p=%.3f; %s", res.Label, res.Prob, res.Reason)
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
