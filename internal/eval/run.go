package eval

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/trace"
)

// outcome is what happened to one record.
type outcome struct {
	// model is the fleet index of the model that answered the first turn,
	// -1 when the request failed.
	model   int
	quality float64
	labeled bool
	// errCode is the failure's code (or type), "" on success.
	errCode string
	// followupFailed is set when a later turn of a multi-turn record
	// failed; the record keeps its label.
	followupFailed bool
	cost           catalog.Micros
	// routedCost is the cost of the routed (first-turn) request alone.
	routedCost catalog.Micros
	// use holds the calls to and the cost of each fleet model (by index)
	// over all turns.
	use []modelUse
	// latencyMS is the modeled latency of the routed (first-turn) request.
	latencyMS float64
	estimated int
}

// run sends every record through route on snap, concurrently, and returns
// the outcomes in record order.
func (e *Evaluator) run(ctx context.Context, snap *config.Snapshot, route string) ([]outcome, error) {
	eng := engine.New(snap, nil)
	out := make([]outcome, len(e.records))
	workers := e.opts.Concurrency
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0) * 4
	}
	workers = min(workers, len(e.records))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(e.records) || ctx.Err() != nil {
					return
				}
				out[i] = e.runRecord(ctx, eng, route, &e.records[i])
				e.tick()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

type modelUse struct {
	calls int32
	cost  catalog.Micros
}

// runRecord sends a record's first prompt turn through route. As in
// RouteLLM's MT-Bench evaluation, a multi-turn record is routed on its first
// turn and the model that answered it answers the later turns too (called
// directly, each turn after its own previous answer); the record's quality
// label is that model's, which for MT-Bench is the judge's mean over both
// turns. Later turns count in cost and calls, not in latency.
func (e *Evaluator) runRecord(ctx context.Context, eng *engine.Engine, route string, rec *dataset.Record) outcome {
	o := outcome{model: -1, use: make([]modelUse, len(e.fleet))}
	// Learned models (package learn) score a record with the fold model
	// trained without it: cross-fitting keeps the evaluation out of
	// sample when a model was trained on this data set.
	ctx = learn.WithRecord(ctx, rec.ID)
	msgs := []llm.Message{{Role: llm.RoleUser, Content: rec.Prompt[0].Content}}
	x := eng.Chat(ctx, engine.Inbound{ID: rec.ID, Request: &llm.Request{Model: route, Messages: msgs}, Start: time.Now()})
	view := x.Trace.Snapshot()
	e.account(&o, view, true)
	if x.Err != nil {
		le := llm.AsError(x.Err)
		o.errCode = le.Code
		if o.errCode == "" {
			o.errCode = le.Type
		}
		x.Finish(le.Status, x.Err)
		return o
	}
	answer := x.Outcome
	x.Finish(http.StatusOK, nil)
	idx, ok := e.index[answer.Model]
	if !ok {
		o.errCode = "unknown_model"
		return o
	}
	o.model = idx
	if rm := e.fleet[idx].RecordModel; rm != "" {
		if a, ok := rec.Models[rm]; ok && a.Quality != nil {
			o.quality, o.labeled = *a.Quality, true
		}
	}
	text := content(answer.Response)
	for turn := 1; turn < len(rec.Prompt); turn++ {
		msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: text},
			llm.Message{Role: llm.RoleUser, Content: rec.Prompt[turn].Content})
		req := &llm.Request{Model: answer.Model, Messages: append([]llm.Message(nil), msgs...)}
		y := eng.Chat(ctx, engine.Inbound{ID: rec.ID, Request: req, Start: time.Now()})
		e.account(&o, y.Trace.Snapshot(), false)
		if y.Err != nil {
			o.followupFailed = true
			y.Finish(llm.AsError(y.Err).Status, y.Err)
			break
		}
		text = content(y.Outcome.Response)
		y.Finish(http.StatusOK, nil)
	}
	return o
}

// account adds a request's attempts to o: cost, calls and estimated
// answers, and for the routed request its modeled latency — the attempts'
// modeled times added up, as the nodes so far call models one after
// another.
func (e *Evaluator) account(o *outcome, view trace.View, routed bool) {
	for _, a := range view.Attempts {
		o.cost += a.CostMicros
		if routed {
			o.routedCost += a.CostMicros
		}
		idx, ok := e.index[a.Model]
		if !ok {
			continue
		}
		o.use[idx].calls++
		o.use[idx].cost += a.CostMicros
		if a.Usage.Estimated {
			o.estimated++
		}
		if routed && a.Outcome == trace.OutcomeOK {
			o.latencyMS += e.fleet[idx].modeledMS(a.Usage.CompletionTokens)
		}
	}
}

func content(r *llm.Response) string {
	if r == nil || len(r.Choices) == 0 {
		return ""
	}
	return r.Choices[0].Message.Content
}

func (e *Evaluator) tick() {
	done := e.done.Add(1)
	if e.opts.Progress != nil {
		e.opts.Progress(done, e.total.Load())
	}
}

// plan adds n record runs to the progress total.
func (e *Evaluator) plan(runs int) { e.total.Add(int64(runs * len(e.records))) }
