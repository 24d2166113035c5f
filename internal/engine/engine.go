// Package engine is the request pipeline between the client API and the
// policy tree: it resolves the route or model a client named, runs the tree
// under the request's deadline, and when the request is over totals its
// usage and cost from the trace and hands the record to the decision log.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sextant-router/sextant/internal/cache"
	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/load"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

// Recorder receives one decision record per finished request. It must not
// block.
type Recorder interface {
	Record(store.Decision)
}

// Observer is told of every finished request, after the decision log.
// Metrics, tracing and the dashboard are observers: they derive what they
// show from the finished trace, so a new policy kind's decisions reach them
// without either side knowing the other. Observe runs on the request's
// goroutine after the answer was written: it must be fast and must not
// block. f and everything it points to are read-only and may be kept.
type Observer interface {
	Observe(f *Finished)
}

// Finished is one finished request as observers see it.
type Finished struct {
	// Decision is the record handed to the decision log (without the
	// request body).
	Decision *store.Decision
	// Kind is "route" or "model" when the name the client sent resolved,
	// "" when it named nothing (Decision.Route is then the raw name).
	Kind string
	// Snapshot is the config the request was served on.
	Snapshot *config.Snapshot
	// ParentSpanID is the client's span (16 hex digits) from its
	// traceparent header, "" when it sent none.
	ParentSpanID string
}

// Engine serves requests on the current config snapshot. Swap installs a
// new snapshot; requests in flight keep the one they started with.
type Engine struct {
	snap      atomic.Pointer[config.Snapshot]
	log       Recorder
	observers []Observer
	// cache is the exact response cache; it outlives snapshots, whose
	// cache block decides which routes use it.
	cache *cache.Cache
	// semantic is the in-memory semantic cache, consulted on an exact
	// miss when the snapshot's cache block has a semantic block.
	semantic *cache.Semantic
}

// New returns an engine serving snap, recording decisions to log (nil
// records nothing) and telling observers of every finished request.
func New(snap *config.Snapshot, log Recorder, observers ...Observer) *Engine {
	e := &Engine{log: log, observers: observers, cache: cache.New(cache.DefaultMaxEntries),
		semantic: cache.NewSemantic(cache.DefaultSemanticMaxEntries)}
	e.snap.Store(snap)
	return e
}

// Snapshot returns the snapshot new requests are served on.
func (e *Engine) Snapshot() *config.Snapshot { return e.snap.Load() }

// Swap installs snap for new requests and returns the previous one.
func (e *Engine) Swap(snap *config.Snapshot) *config.Snapshot { return e.snap.Swap(snap) }

// Inbound is a decoded client request.
type Inbound struct {
	ID      string
	Request *llm.Request
	Caller  policy.Caller
	Header  http.Header
	Start   time.Time
	// Snapshot is the config the request was decoded and authenticated
	// on; nil means the current one. Passing it keeps a reload between
	// authentication and routing from mixing two configs.
	Snapshot *config.Snapshot
	// TraceID and ParentSpanID place the request in an OpenTelemetry
	// trace (hex, "" when tracing is off or the client sent no parent).
	TraceID, ParentSpanID string
	// CacheControl is the client's x-sextant-cache header: "bypass"
	// (neither read nor write the response cache), "refresh" (skip the
	// read, store the answer) or "" (use the cache).
	CacheControl string
}

// Exchange is one request in progress. The caller must call Finish exactly
// once, after the answer was written (or failed), and Close the stream if
// Outcome has one.
type Exchange struct {
	ID    string
	Route string // what the client named: a route or a model
	Kind  string // "route" or "model"
	Trace *trace.Trace
	// Outcome is nil when Err is set.
	Outcome *policy.Outcome
	Err     error
	// Cache is what the response cache did: "hit", "miss", "bypass", or ""
	// when the route does not use the cache.
	Cache string

	e *Engine
	// snap is the snapshot the exchange started on; its store config
	// decides whether the request is logged.
	snap     *config.Snapshot
	in       Inbound
	cancel   context.CancelFunc
	finished atomic.Bool
}

// Chat runs the request through its route. The returned exchange holds the
// outcome or the error; ctx bounds the whole exchange, so a stream must be
// read before ctx ends.
func (e *Engine) Chat(ctx context.Context, in Inbound) *Exchange {
	snap := in.Snapshot
	if snap == nil {
		snap = e.snap.Load()
	}
	if in.Start.IsZero() {
		in.Start = time.Now()
	}
	x := &Exchange{ID: in.ID, Route: in.Request.Model, Trace: trace.New(in.Start), e: e, snap: snap, in: in}
	load.Default.Inc() // until Finish
	node, kind := resolve(snap, in.Request.Model)
	x.Kind = kind
	if node == nil {
		x.cancel = func() {}
		x.Err = &llm.Error{Status: http.StatusNotFound, Type: llm.TypeNotFound, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("the model or route %q does not exist; GET /v1/models lists them", in.Request.Model), Class: llm.ClassCaller}
		return x
	}
	ctx, x.cancel = context.WithTimeout(ctx, snap.File.Executor.TotalTimeout.D())
	call := &policy.Call{Request: in.Request, Caller: in.Caller, Header: in.Header, Exec: snap.Executor, Trace: x.Trace, Now: in.Start}
	out, err := e.serve(ctx, x, snap, node, call)
	if err == nil && out == nil {
		err = &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer, Message: "the route returned no answer"}
	}
	x.Outcome, x.Err = out, err
	return x
}

// serve runs the tree, through the response cache when the snapshot turns
// it on for the route: once per request, whatever the tree does inside.
func (e *Engine) serve(ctx context.Context, x *Exchange, snap *config.Snapshot, node policy.Node, call *policy.Call) (*policy.Outcome, error) {
	cfg := &snap.File.Cache
	if !cfg.Covers(x.Route) {
		return node.Serve(ctx, call)
	}
	ctl := strings.ToLower(strings.TrimSpace(x.in.CacheControl))
	if ctl == "bypass" {
		x.Cache = "bypass"
		return node.Serve(ctx, call)
	}
	req := call.Request
	key, err := cache.Key(x.in.Caller.Key, x.Route, req)
	if err != nil {
		x.Cache = "bypass"
		return node.Serve(ctx, call)
	}
	e.cache.Resize(cfg.MaxOrDefault())
	ttl := cfg.TTLOrDefault()
	if ctl != "refresh" {
		if ent, ok := e.cache.Get(key); ok {
			return cacheHit(x, ent, req, "", cacheExact), nil
		}
	}
	sem := e.semanticProbe(ctx, x, snap, call, ctl)
	if sem.hit != nil {
		hit := cacheHit(x, sem.hit, req, fmt.Sprintf("semantic %.2f", sem.sim), cacheSemantic)
		return hit, nil
	}
	if req.Stream {
		return e.serveStream(ctx, x, node, call, key, ttl, ctl, sem)
	}
	ent, shared, err := e.cache.Do(ctx, key, ttl, func() (*cache.Entry, error) {
		out, err := node.Serve(ctx, call)
		switch {
		case err != nil:
			return nil, err
		case out == nil || out.Response == nil:
			return nil, &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer, Message: "the route returned no answer"}
		}
		ent := &cache.Entry{Model: out.Model, Response: out.Response}
		sem.store(e.semantic, ent, ttl)
		return ent, nil
	})
	if shared && err == nil {
		return cacheHit(x, ent, req, "coalesced", cacheExact), nil
	}
	x.Cache = "miss"
	x.Trace.Decide(trace.Decision{Node: "cache", Kind: "cache", Decision: "miss", Reason: ctl})
	if err != nil {
		return nil, err
	}
	return &policy.Outcome{Model: ent.Model, Response: ent.Response}, nil
}

// serveStream serves a streaming cache miss, coalesced with concurrent
// identical streaming requests (cache.JoinStream): the first runs the
// tree and streams live to its client while the answer is assembled and
// stored; the others wait for that answer and get it replayed, as a hit
// ("coalesced"). When the leader ends without an answer (its call failed,
// its stream broke or its client went away) each follower runs the tree
// itself, uncoalesced.
func (e *Engine) serveStream(ctx context.Context, x *Exchange, node policy.Node, call *policy.Call, key string, ttl time.Duration, ctl string, sem semProbe) (*policy.Outcome, error) {
	req := call.Request
	lead, ent, err := e.cache.JoinStream(ctx, key)
	switch {
	case ent != nil:
		return cacheHit(x, ent, req, "coalesced", cacheExact), nil
	case err != nil && !errors.Is(err, cache.ErrLeaderFailed):
		x.Cache = "miss"
		x.Trace.Decide(trace.Decision{Node: "cache", Kind: "cache", Decision: "miss", Reason: "gave up waiting for a coalesced call"})
		return nil, err
	}
	reason := ctl
	if err != nil {
		reason = "the coalesced call ended without an answer"
	}
	if lead != nil && ctl != "refresh" {
		// An identical leader may have stored its answer and left between
		// the Get above and JoinStream.
		if ent, ok := e.cache.Get(key); ok {
			lead.Done(ent)
			return cacheHit(x, ent, req, "", cacheExact), nil
		}
	}
	x.Cache = "miss"
	x.Trace.Decide(trace.Decision{Node: "cache", Kind: "cache", Decision: "miss", Reason: reason})
	out, err := node.Serve(ctx, call)
	if err != nil || out == nil || out.Stream == nil {
		if lead != nil {
			lead.Fail()
		}
		return out, err
	}
	store := func(ent *cache.Entry) { sem.store(e.semantic, ent, ttl) }
	if lead != nil {
		out.Stream = lead.Record(out.Stream, out.Model, ttl, store)
		return out, nil
	}
	model := out.Model
	out.Stream = cache.Record(out.Stream, func(r *llm.Response) {
		ent := &cache.Entry{Model: model, Response: r}
		e.cache.Set(key, ent, ttl)
		store(ent)
	})
	return out, nil
}

// semProbe is what the semantic cache found for one request: a hit, or
// the scope and vector to store the answer under (vec nil when the
// semantic cache is off, the request is not eligible or the embedding
// failed).
type semProbe struct {
	scope string
	vec   []float32
	hit   *cache.Entry
	sim   float64
}

// store adds ent to the semantic cache when the probe has a vector.
func (p semProbe) store(s *cache.Semantic, ent *cache.Entry, ttl time.Duration) {
	if p.vec != nil {
		s.Add(p.scope, p.vec, ent, time.Now().Add(ttl))
	}
}

// semanticProbe embeds the request's last user message through the
// snapshot's executor (so its cost lands in the request's trace) and, unless
// ctl is "refresh", searches the request's scope. An embedding error is a
// miss and is not stored; it never fails the request.
func (e *Engine) semanticProbe(ctx context.Context, x *Exchange, snap *config.Snapshot, call *policy.Call, ctl string) semProbe {
	sc := snap.File.Cache.Semantic
	if sc == nil || snap.Executor == nil {
		return semProbe{}
	}
	scope, text, ok := cache.Scope(x.in.Caller.Key, x.Route, call.Request)
	if !ok {
		return semProbe{}
	}
	res, err := snap.Executor.Embed(ctx, call, sc.EmbedModel, &llm.EmbedRequest{Model: sc.EmbedModel, Input: []string{text}})
	if err != nil || res == nil || len(res.Vectors) != 1 {
		return semProbe{}
	}
	p := semProbe{scope: scope, vec: res.Vectors[0]}
	e.semantic.Resize(sc.MaxOrDefault())
	if ctl != "refresh" {
		if ent, sim, ok := e.semantic.Lookup(scope, p.vec, sc.ThresholdOrDefault(), time.Now()); ok {
			p.hit, p.sim = ent, sim
		}
	}
	return p
}

// Which cache answered a hit: the trace decision's data "cache", and the
// cache label of the cache metric.
const (
	cacheExact    = "exact"
	cacheSemantic = "semantic"
)

// cacheHit answers from ent at zero upstream cost: no attempt is recorded,
// only the decision, whose data says which cache answered (source:
// cacheExact or cacheSemantic). A streaming request gets the answer
// replayed as a stream.
func cacheHit(x *Exchange, ent *cache.Entry, req *llm.Request, reason, source string) *policy.Outcome {
	x.Cache = "hit"
	x.Trace.Decide(trace.Decision{Node: "cache", Kind: "cache", Decision: "hit", Reason: reason,
		Data: map[string]any{"model": ent.Model, "cache": source}})
	if req.Stream {
		return &policy.Outcome{Model: ent.Model, Stream: cache.NewReplay(ent.Response)}
	}
	return &policy.Outcome{Model: ent.Model, Response: ent.Response}
}

func resolve(snap *config.Snapshot, name string) (policy.Node, string) {
	if n, ok := snap.Routes[name]; ok {
		return n, "route"
	}
	if n, ok := snap.Direct[name]; ok {
		return n, "model"
	}
	return nil, ""
}

// Totals returns what the exchange used and cost so far.
func (x *Exchange) Totals() (llm.Usage, catalog.Micros) { return x.Trace.Totals() }

// Finish ends the exchange: it releases its deadline and records the
// decision with the HTTP status the client saw and the error it got, if
// any. Calls after the first do nothing.
func (x *Exchange) Finish(status int, err error) {
	if !x.finished.CompareAndSwap(false, true) {
		return
	}
	load.Default.Dec()
	x.cancel()
	if x.e.log == nil && len(x.e.observers) == 0 {
		return
	}
	usage, cost := x.Trace.Totals()
	view := x.Trace.Snapshot()
	d := store.Decision{
		RequestID: x.ID, Time: x.in.Start, Route: x.Route, Status: status,
		Stream: x.in.Request.Stream, Usage: usage, CostMicros: cost,
		LatencyMS: trace.Millis(time.Since(x.in.Start)), CallerKey: x.in.Caller.Key, CallerTier: x.in.Caller.Tier, Trace: view,
		TraceID: x.in.TraceID,
	}
	if x.Outcome != nil {
		d.Model = x.Outcome.Model
	}
	if x.Outcome != nil && x.Outcome.Stream != nil {
		// The stream's first byte came from the last attempt on the
		// answering model, whether the stream then ended, broke or was
		// abandoned; a whole response has no time to first byte.
		for _, a := range view.Attempts {
			if a.Model == d.Model && a.Stream {
				d.TTFTMS = a.StartMS + a.TTFTMS
			}
		}
	}
	if err != nil {
		le := llm.AsError(err)
		d.ErrorType, d.ErrorMessage = le.Type, le.Message
	}
	if x.e.log != nil {
		logged := d
		if x.snap != nil && x.snap.File != nil && x.snap.File.Store.LogRequests {
			// The request as the client sent it (the executor works on
			// clones). A request that does not encode is left out; the
			// decision is still recorded.
			if b, err := json.Marshal(x.in.Request); err == nil {
				logged.Request = b
			}
		}
		x.e.log.Record(logged)
	}
	if len(x.e.observers) > 0 {
		f := &Finished{Decision: &d, Kind: x.Kind, Snapshot: x.snap, ParentSpanID: x.in.ParentSpanID}
		for _, o := range x.e.observers {
			o.Observe(f)
		}
	}
}
