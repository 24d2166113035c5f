package gate

import (
	"context"
	"errors"
	"math"
	"sync"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/gate/answer"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

// Answer is what a gate judges.
type Answer struct {
	// Model is the catalog name of the model that answered.
	Model string
	// Request is the request as sent to that model (it may carry
	// logprobs or n the gate asked for).
	Request *llm.Request
	// Response is the whole answer. For a stream held back at a commit
	// point it is the part received so far and Partial is true.
	Response *llm.Response
	Partial  bool

	once     sync.Once
	analysis *answer.Analysis
}

// Text returns the text of the answer's first choice, "" when there is
// none.
func (a *Answer) Text() string {
	if a == nil {
		return ""
	}
	return a.Response.Text()
}

// Analysis returns the text analysis of the answer's first choice,
// computed on first use and shared by the gates that judge the answer
// (Response must not change after the first call). Safe for concurrent
// use.
func (a *Answer) Analysis() *answer.Analysis {
	a.once.Do(func() { a.analysis = answer.Analyse(a.Text()) })
	return a.analysis
}

// Verdict is a gate's judgement of one answer.
type Verdict struct {
	Gate  string  // the gate's name (its kind, or its configured name)
	Score float64 // in [0,1], higher is better
	// Threshold is the threshold that applied to this call (after tier
	// and load); 0 for all and any, which have none.
	Threshold float64
	Pass      bool   // Score cleared the gate's threshold for this call
	Reason    string // short, human-readable, for the trace
	// Skipped is true when the gate could not judge (no logprobs, a
	// prefix it cannot judge yet); a skipped gate neither passes nor
	// fails a combination.
	Skipped bool
	// Metrics are the measurements behind the score (mean_logprob,
	// arithmetic_wrong, ...), named in each gate's doc; nil when none.
	Metrics map[string]float64
	// Rule is "all", "any" or "weighted" for a combination, "" for a
	// single gate.
	Rule string
	// Verdicts are a combination's children's verdicts in config order,
	// children that were not run included (as skipped); nil for a single
	// gate.
	Verdicts []Verdict
}

// Outcome returns "pass", "fail" or "skip", the decision the trace
// records.
func (v Verdict) Outcome() string {
	switch {
	case v.Skipped:
		return "skip"
	case v.Pass:
		return "pass"
	}
	return "fail"
}

// Gate judges answers. Check must return when ctx is canceled; any model
// call it makes (judge, embeddings, samples) goes through c.Exec so its
// cost lands in c.Trace. An error means the gate could not run; callers
// treat it as a failed check with the error as the reason (Run does). A
// Gate is immutable once built and safe for concurrent use.
type Gate interface {
	// Name is the gate's name, unique within one gate tree: its
	// configured name, or its kind.
	Name() string
	Check(ctx context.Context, c *policy.Call, a *Answer) (Verdict, error)
}

// Preparer is implemented by gates that need something from the model
// beyond the answer text: log-probabilities, several choices. Prepare
// returns the request to send to model m: req itself when nothing needs
// changing (or m cannot provide it), else a changed clone. It never
// changes req. Whoever sends a prepared request must hand the client
// only what the client asked for (Strip).
type Preparer interface {
	Prepare(m *catalog.Model, req *llm.Request) *llm.Request
}

// Prepare returns req as g wants it sent to m (see Preparer); req itself
// when g is not a Preparer. m may be nil (unknown model): then nothing is
// asked for.
func Prepare(g Gate, m *catalog.Model, req *llm.Request) *llm.Request {
	if p, ok := g.(Preparer); ok && m != nil && req != nil {
		return p.Prepare(m, req)
	}
	return req
}

// Run checks a with g and turns an error into a failed verdict whose
// reason is the error: the form a cascade or race acts on. When ctx ended
// the verdict says so; the caller should check ctx itself.
func Run(ctx context.Context, c *policy.Call, g Gate, a *Answer) Verdict {
	v, err := g.Check(ctx, c, a)
	if err == nil {
		return v
	}
	return Failed(g, err)
}

// Failed is the verdict of a gate g that could not run because of err:
// score 0, not passed, the error as the reason.
func Failed(g Gate, err error) Verdict {
	reason := "error: " + err.Error()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		reason = "not finished: " + err.Error()
	}
	return Verdict{Gate: g.Name(), Reason: reason}
}

// clamp01 maps a score into [0,1]; NaN becomes 0.
func clamp01(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}
