package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/llm"
)

// RerunOptions configure Rerun.
type RerunOptions struct {
	// File is the parsed config and BaseDir the directory its relative
	// paths (a replay model's dataset) resolve against. ConfigName names
	// it in reports.
	File       *config.File
	BaseDir    string
	ConfigName string
	// Route names the route of File (or a model, alone) the logged
	// requests are re-run through.
	Route string
	// LogRoute keeps only the decisions logged for this route or model
	// name; "" keeps all.
	LogRoute string
	// Concurrency is how many requests are in flight; default
	// GOMAXPROCS × 4.
	Concurrency int
	// Limit, when positive, re-runs only the first Limit logged requests.
	Limit int
}

// RerunNote states how quality is measured in a RerunReport.
const RerunNote = "quality is the feedback score (the latest one per request) given to the logged answer; " +
	"a re-run answer is only known to deserve it when the re-run model is the model that answered when logged, " +
	"so only those requests are labeled and the others are counted unlabeled. Re-run latency is modeled " +
	"(each model's ttft and tokens_per_second), logged latency is wall-clock. strong_share, cost_share, pgr " +
	"and random need strong and weak references and are not computed"

// RerunReport compares logged traffic as it was served with the same
// requests re-run through a route of another config.
type RerunReport struct {
	Source   string `json:"source"`
	LogRoute string `json:"log_route,omitempty"`
	Config   string `json:"config"`
	Route    string `json:"route"`
	// Skipped counts logged decisions without a request (logged without
	// store.log_requests, or before schema version 2); they are in
	// neither side.
	Skipped int `json:"skipped"`
	// Logged summarises the re-run requests as they were served.
	Logged *LogReport `json:"logged"`
	// Rerun is the same requests through Route: Labeled counts those
	// answered by their logged model and having a feedback score, Failed
	// those without an answer (a replay model without the prompt:
	// prompt_not_recorded), by error code in Errors.
	Rerun Summary `json:"rerun"`
	// SameModel counts requests the re-run answered with the logged model.
	SameModel int `json:"same_model"`
	// Models says how each config model ran.
	Models []FleetModel `json:"models"`
	Note   string       `json:"note"`
}

// FleetModel is how a model ran in a re-run.
type FleetModel struct {
	Name     string `json:"name"`
	Provider string `json:"provider"`
}

// Rerun re-runs the logged requests of the SQLite decision log at path
// through opts.Route of opts.File, on the engine that serves traffic, and
// reports both sides. The config's models run as they are configured —
// sims stay sims, replay models answer from their own data set — except
// that nothing waits the modeled latency (realtime off); a config with a
// live model is refused, as a re-run sends nothing over the network.
func Rerun(ctx context.Context, path string, opts RerunOptions) (*RerunReport, error) {
	if opts.File == nil {
		return nil, errors.New("eval: no config")
	}
	if opts.Route == "" {
		return nil, errors.New("eval: no route to re-run through (--route)")
	}
	rows, err := readLog(ctx, path, opts.LogRoute)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, noDecisions(path, opts.LogRoute)
	}
	kept := rows[:0:0]
	for _, r := range rows {
		if r.request != nil {
			kept = append(kept, r)
		}
	}
	skipped := len(rows) - len(kept)
	if opts.Limit > 0 && len(kept) > opts.Limit {
		kept = kept[:opts.Limit]
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("eval: none of the %d decisions in %s has its request logged; "+
			"set store: {log_requests: true} to log requests for re-runs", len(rows), path)
	}
	e, snap, err := rerunFleet(opts)
	if err != nil {
		return nil, err
	}
	outs := e.rerun(ctx, snap, opts, kept)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := &RerunReport{
		Source: path, LogRoute: opts.LogRoute, Config: opts.ConfigName, Route: opts.Route, Skipped: skipped,
		Logged: summarizeLog(path, opts.LogRoute, kept), Rerun: e.summarize(outs, nil), Note: RerunNote,
	}
	for i, o := range outs {
		if o.model >= 0 && e.fleet[o.model].Name == kept[i].model {
			rep.SameModel++
		}
	}
	for _, m := range e.fleet {
		rep.Models = append(rep.Models, FleetModel{Name: m.Name, Provider: m.Provider})
	}
	return rep, nil
}

// rerunFleet builds opts.File with realtime off, refusing live models, and
// an Evaluator holding only the fleet, for account and summarize.
func rerunFleet(opts RerunOptions) (*Evaluator, *config.Snapshot, error) {
	f := *opts.File
	f.Models = make([]config.Model, len(opts.File.Models))
	e := &Evaluator{opts: Options{Route: opts.Route, Concurrency: opts.Concurrency}, byName: map[string]*fleetModel{}, index: map[string]int{}}
	for i, m := range opts.File.Models {
		if m.Provider != "sim" && m.Provider != "replay" {
			return nil, nil, fmt.Errorf("eval: models[%d] (%s): provider %q calls the network; a re-run uses sim and replay models only", i, m.Name, m.Provider)
		}
		o := map[string]json.RawMessage{}
		if len(m.Options) > 0 && string(m.Options) != "null" {
			if err := json.Unmarshal(m.Options, &o); err != nil {
				return nil, nil, fmt.Errorf("eval: models[%d].options: expected a mapping", i)
			}
		}
		o["realtime"] = json.RawMessage("false")
		ttft, tps, err := latencyModel(m.Provider, o)
		if err != nil {
			return nil, nil, fmt.Errorf("eval: models[%d].options: %w", i, err)
		}
		m.Options = mustJSON(o)
		f.Models[i] = m
		fm := &fleetModel{Name: m.Name, Provider: m.Provider, ttft: ttft, perToken: time.Duration(float64(time.Second) / tps)}
		e.byName[m.Name], e.index[m.Name] = fm, i
		e.fleet = append(e.fleet, fm)
	}
	baseDir := opts.BaseDir
	if baseDir == "" {
		baseDir = "."
	}
	snap, err := config.Build(&f, config.BuildOptions{BaseDir: baseDir})
	if err != nil {
		return nil, nil, err
	}
	if _, ok := snap.Routes[opts.Route]; !ok {
		if _, ok := snap.Direct[opts.Route]; !ok {
			return nil, nil, fmt.Errorf("eval: the config has no route or model %q (routes: %s)", opts.Route, strings.Join(sortedKeys(opts.File.Routes), ", "))
		}
	}
	return e, snap, nil
}

// rerun sends every logged request through the route, concurrently, and
// returns the outcomes in log order.
func (e *Evaluator) rerun(ctx context.Context, snap *config.Snapshot, opts RerunOptions, rows []logRow) []outcome {
	eng := engine.New(snap, nil)
	out := make([]outcome, len(rows))
	workers := opts.Concurrency
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0) * 4
	}
	workers = min(workers, len(rows))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rows) || ctx.Err() != nil {
					return
				}
				out[i] = e.rerunOne(ctx, eng, opts.Route, &rows[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// codeBadLoggedRequest marks a logged request that does not decode.
const codeBadLoggedRequest = "bad_logged_request"

// rerunOne sends one logged request, as a whole response, through route.
// The answer is labeled with the logged feedback score only when the
// logged model answered it again.
func (e *Evaluator) rerunOne(ctx context.Context, eng *engine.Engine, route string, r *logRow) outcome {
	o := outcome{model: -1, use: make([]modelUse, len(e.fleet))}
	var req llm.Request
	if err := json.Unmarshal(r.request, &req); err != nil {
		o.errCode = codeBadLoggedRequest
		return o
	}
	req.Model, req.Stream, req.IncludeUsage = route, false, false
	x := eng.Chat(ctx, engine.Inbound{ID: r.id, Request: &req, Start: time.Now()})
	e.account(&o, x.Trace.Snapshot(), true)
	if x.Err != nil {
		le := llm.AsError(x.Err)
		o.errCode = le.Code
		if o.errCode == "" {
			o.errCode = le.Type
		}
		x.Finish(le.Status, x.Err)
		return o
	}
	x.Finish(http.StatusOK, nil)
	idx, ok := e.index[x.Outcome.Model]
	if !ok {
		o.errCode = "unknown_model"
		return o
	}
	o.model = idx
	if x.Outcome.Model == r.model && r.score.Valid {
		o.quality, o.labeled = r.score.Float64, true
	}
	return o
}
