package classify

import (
	"context"
	"encoding/json"
	"math"
	"sort"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/policy"
)

// Classifier assigns a request one of a fixed set of labels with a
// probability.
//
// Classify must be a function of the request's content (its messages, as
// seen through c.Features and c.Request's messages) and the classifier's
// own state only: never of the caller, headers, metadata or the requested
// model name, so a request cannot steer its own classification by anything
// but what it says. It must return when ctx is canceled. A Classifier is
// immutable after it is built and safe for concurrent use.
type Classifier interface {
	// Classify returns the request's label and the probability of every
	// label. An error means no classification (e.g. an embeddings call
	// failed); the caller decides what to do without one.
	Classify(ctx context.Context, c *policy.Call) (Result, error)
	// Labels returns the labels Classify can return, in a fixed order.
	Labels() []string
	// Name identifies the classifier in traces: "rules:complexity",
	// "model:gsm8k.classifier.json".
	Name() string
}

// Result is one classification.
type Result struct {
	// Label is the most probable label (the first of equals), Prob its
	// probability and Index its index in Labels.
	Label string
	Prob  float64
	Index int
	// Labels are the classifier's labels, shared and read-only; Probs[i]
	// is the probability of Labels[i]. The probabilities sum to 1.
	Labels []string
	Probs  []float64
	// Reason says briefly why, for the trace.
	Reason string
}

// ProbMap returns the probabilities by label, for traces.
func (r Result) ProbMap() map[string]float64 {
	m := make(map[string]float64, len(r.Labels))
	for i, l := range r.Labels {
		m[l] = r.Probs[i]
	}
	return m
}

// fromScores turns per-label scores into a Result with the softmax of the
// scores as probabilities.
func fromScores(labels []string, scores []float64) Result {
	top := math.Inf(-1)
	for _, s := range scores {
		top = max(top, s)
	}
	probs := make([]float64, len(scores))
	sum := 0.0
	for i, s := range scores {
		probs[i] = math.Exp(s - top)
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
	return fromProbs(labels, probs)
}

// fromProbs builds a Result over probs, which the caller owns no more.
func fromProbs(labels []string, probs []float64) Result {
	best := 0
	for i, p := range probs {
		if p > probs[best] {
			best = i
		}
	}
	return Result{Label: labels[best], Prob: probs[best], Index: best, Labels: labels, Probs: probs}
}

// New builds the classifier configured by raw at path: a mapping with
// exactly one key naming the classifier — rules or model (see the package
// doc). b resolves file paths and finds the embeddings model.
func New(b policy.Builder, path string, raw json.RawMessage) (Classifier, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 {
		return nil, conf.Errorf(path, "expected a mapping with exactly one classifier: rules or model")
	}
	for kind, block := range m {
		p := conf.Join(path, kind)
		switch kind {
		case "rules":
			return NewRules(p, block)
		case "model":
			return NewModel(b, p, block)
		default:
			return nil, conf.Errorf(p, "unknown classifier %q (known: rules, model)", kind)
		}
	}
	panic("unreachable")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
