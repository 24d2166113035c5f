package ui

import (
	"errors"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/metrics"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

// Overview is GET /ui/api/overview: the dashboard's and `sextant top`'s
// live numbers over a window (default 5 minutes, at most 30).
type Overview struct {
	Now      time.Time  `json:"now"`
	Started  time.Time  `json:"started"`
	WindowS  int        `json:"window_s"`
	BucketS  int        `json:"bucket_s"`
	Baseline string     `json:"baseline"`
	Window   Totals     `json:"window"`
	Lifetime Totals     `json:"lifetime"`
	Routes   []RouteMix `json:"routes"`
	Models   []ModelRow `json:"models"`
	Gates    []GateRow  `json:"gates"`
	Cascade  Cascade    `json:"cascade"`
	Cache    Cache      `json:"cache"`
	Series   Series     `json:"series"`
	// DecisionLog is nil when no decision log is kept.
	DecisionLog *LogRow `json:"decision_log"`
	// Circuits and Budgets stay null until Sextant has circuit breakers
	// and budgets to report.
	Circuits   any      `json:"circuits"`
	Budgets    any      `json:"budgets"`
	EvalRoutes []string `json:"eval_routes"`
	// Sample is how many recent requests the per-model numbers are over.
	Sample int `json:"sample"`
}

// Totals sum a period.
type Totals struct {
	Requests          int64   `json:"requests"`
	Errors            int64   `json:"errors"`
	ErrorRate         float64 `json:"error_rate"`
	RPS               float64 `json:"rps"`
	CostUSD           float64 `json:"cost_usd"`
	BaselineUSD       float64 `json:"baseline_usd"`
	SavingsUSD        float64 `json:"savings_usd"`
	SavingsShare      float64 `json:"savings_share"`
	CostPerRequestUSD float64 `json:"cost_per_request_usd"`
	LatencyMeanMS     float64 `json:"latency_mean_ms,omitempty"`
}

// RouteMix is one route's routing distribution.
type RouteMix struct {
	Route    string     `json:"route"`
	Kind     string     `json:"kind"` // "route", "model" or "unknown"
	Requests int64      `json:"requests"`
	Models   []ModelMix `json:"models"`
}

// ModelMix is one model's share of a route.
type ModelMix struct {
	Model    string  `json:"model"`
	Requests int64   `json:"requests"`
	Share    float64 `json:"share"`
}

// ModelRow is one model's live health from its recent attempts.
type ModelRow struct {
	Model     string      `json:"model"`
	Provider  string      `json:"provider"`
	Tier      string      `json:"tier,omitempty"`
	Attempts  int         `json:"attempts"`
	Errors    int         `json:"errors"`
	ErrorRate float64     `json:"error_rate"`
	Answered  int         `json:"answered"`
	CostUSD   float64     `json:"cost_usd"`
	LatencyMS Percentiles `json:"latency_ms"`
	TTFTMS    Percentiles `json:"ttft_ms"`
	// Errors counts the failed calls that charge the model's health
	// (metrics.ChargesHealth): not those it declined as unsupported, nor
	// the caller's faults. Health is "idle" (no calls in the window),
	// "ok", "degraded" (over 5% errors) or "failing" (over 50%).
	Health string `json:"health"`
}

// Percentiles of a sample; zero when it is empty.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	N   int     `json:"n"`
}

// GateRow is one gate's verdicts.
type GateRow struct {
	Gate     string  `json:"gate"`
	Pass     int64   `json:"pass"`
	Fail     int64   `json:"fail"`
	Skip     int64   `json:"skip"`
	PassRate float64 `json:"pass_rate"`
}

// Cascade counts cascade steps.
type Cascade struct {
	Accept          int64   `json:"accept"`
	Escalate        int64   `json:"escalate"`
	EscalationShare float64 `json:"escalation_share"`
}

// Cache counts response cache lookups.
type Cache struct {
	Hits    int64   `json:"hits"`
	Misses  int64   `json:"misses"`
	HitRate float64 `json:"hit_rate"`
}

// Series are per-bucket values, oldest first; T is each bucket's start.
type Series struct {
	T              []int64   `json:"t"` // unix milliseconds
	Requests       []int64   `json:"requests"`
	Errors         []int64   `json:"errors"`
	CostUSD        []float64 `json:"cost_usd"`
	BaselineUSD    []float64 `json:"baseline_usd"`
	CostPerRequest []float64 `json:"cost_per_request_usd"`
	LatencyMeanMS  []float64 `json:"latency_mean_ms"`
}

// LogRow is the decision log's health.
type LogRow struct {
	Written     uint64 `json:"written"`
	Dropped     uint64 `json:"dropped"`
	WriteErrors uint64 `json:"write_errors"`
	Queued      int    `json:"queued"`
}

// DecisionRow is one line of GET /ui/api/decisions.
type DecisionRow struct {
	RequestID   string    `json:"request_id"`
	Time        time.Time `json:"time"`
	Route       string    `json:"route"`
	Model       string    `json:"model"`
	Status      int       `json:"status"`
	Outcome     string    `json:"outcome"`
	Stream      bool      `json:"stream"`
	CostUSD     float64   `json:"cost_usd"`
	BaselineUSD float64   `json:"baseline_usd"`
	LatencyMS   float64   `json:"latency_ms"`
	TTFTMS      float64   `json:"ttft_ms,omitempty"`
	OverheadMS  float64   `json:"overhead_ms"`
	TokensIn    int       `json:"tokens_in"`
	TokensOut   int       `json:"tokens_out"`
	Attempts    int       `json:"attempts"`
	Decision    string    `json:"decision"`
	TraceID     string    `json:"trace_id,omitempty"`
	ErrorType   string    `json:"error_type,omitempty"`
}

func (h *handler) overview(w http.ResponseWriter, r *http.Request) {
	window := 300
	if v := r.URL.Query().Get("window"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < BucketSeconds || n > Buckets*BucketSeconds {
			apiError(w, http.StatusBadRequest, "window must be whole seconds in [5,1800]")
			return
		}
		window = n
	}
	writeJSON(w, h.buildOverview(h.opts.Snapshot(), time.Duration(window)*time.Second))
}

func (h *handler) buildOverview(snap *config.Snapshot, window time.Duration) *Overview {
	rec := h.opts.Recent
	n := int(window.Seconds()) / BucketSeconds
	bs, nowSlot := rec.window(n)
	life, started := rec.lifetime()
	now := rec.now()
	o := &Overview{Now: now.UTC(), Started: started.UTC(), WindowS: n * BucketSeconds, BucketS: BucketSeconds,
		Baseline: snap.Observability.Baseline, Routes: []RouteMix{}, Models: []ModelRow{}, Gates: []GateRow{},
		EvalRoutes: []string{}}

	// Time series and window totals from the buckets.
	var win totals
	var latSum float64
	mix := map[string]map[string]int64{}
	gates := map[string]*[3]int64{}
	for _, b := range bs {
		t := b.totals
		o.Series.T = append(o.Series.T, b.slot*BucketSeconds*1000)
		o.Series.Requests = append(o.Series.Requests, t.Requests)
		o.Series.Errors = append(o.Series.Errors, t.Errors)
		o.Series.CostUSD = append(o.Series.CostUSD, t.Cost.USD())
		o.Series.BaselineUSD = append(o.Series.BaselineUSD, t.Baseline.USD())
		o.Series.CostPerRequest = append(o.Series.CostPerRequest, ratio(t.Cost.USD(), float64(t.Requests)))
		o.Series.LatencyMeanMS = append(o.Series.LatencyMeanMS, ratio(b.latSumMS, float64(t.Requests)))
		win.Requests += t.Requests
		win.Errors += t.Errors
		win.Cost += t.Cost
		win.Baseline += t.Baseline
		latSum += b.latSumMS
		for route, models := range b.routes {
			if mix[route] == nil {
				mix[route] = map[string]int64{}
			}
			for m, c := range models {
				mix[route][m] += c
			}
		}
		for g, c := range b.gates {
			if gates[g] == nil {
				gates[g] = &[3]int64{}
			}
			for i := range c {
				gates[g][i] += c[i]
			}
		}
		o.Cascade.Accept += b.cascade[0]
		o.Cascade.Escalate += b.cascade[1]
		o.Cache.Hits += b.cache[0]
		o.Cache.Misses += b.cache[1]
	}
	// The current bucket is partly elapsed.
	elapsed := float64(len(bs)-1)*BucketSeconds + float64(now.Unix()-nowSlot*BucketSeconds) + 1
	elapsed = min(elapsed, now.Sub(started).Seconds()+1)
	o.Window = summarize(win, elapsed)
	o.Window.LatencyMeanMS = ratio(latSum, float64(win.Requests))
	o.Lifetime = summarize(life, now.Sub(started).Seconds())
	o.Cascade.EscalationShare = ratio(float64(o.Cascade.Escalate), float64(o.Cascade.Accept+o.Cascade.Escalate))
	o.Cache.HitRate = ratio(float64(o.Cache.Hits), float64(o.Cache.Hits+o.Cache.Misses))

	// Routing distribution: every configured route, then what else came.
	seen := map[string]bool{}
	addRoute := func(route, kind string) {
		seen[route] = true
		rm := RouteMix{Route: route, Kind: kind, Models: []ModelMix{}}
		for m, c := range mix[route] {
			rm.Requests += c
			rm.Models = append(rm.Models, ModelMix{Model: m, Requests: c})
		}
		for i := range rm.Models {
			rm.Models[i].Share = ratio(float64(rm.Models[i].Requests), float64(rm.Requests))
		}
		sort.Slice(rm.Models, func(i, j int) bool {
			a, b := rm.Models[i], rm.Models[j]
			return a.Requests > b.Requests || a.Requests == b.Requests && a.Model < b.Model
		})
		o.Routes = append(o.Routes, rm)
	}
	for _, route := range snap.RouteOrder {
		addRoute(route, "route")
	}
	var rest []string
	for route := range mix {
		if !seen[route] {
			rest = append(rest, route)
		}
	}
	sort.Strings(rest)
	for _, route := range rest {
		kind := "model"
		if route == metrics.UnknownRoute {
			kind = "unknown"
		}
		addRoute(route, kind)
	}

	for _, g := range sortedKeys(gates) {
		c := gates[g]
		o.Gates = append(o.Gates, GateRow{Gate: g, Pass: c[0], Fail: c[1], Skip: c[2], PassRate: ratio(float64(c[0]), float64(c[0]+c[1]))})
	}

	// Per-model health from the recent requests' attempts.
	entries := rec.recentEntries(window, len(rec.ring))
	o.Sample = len(entries)
	type acc struct {
		row       ModelRow
		lat, ttft []float64
	}
	models := map[string]*acc{}
	for _, e := range entries {
		for _, a := range e.d.Trace.Attempts {
			m := models[a.Model]
			if m == nil {
				m = &acc{row: ModelRow{Model: a.Model, Provider: a.Provider}}
				models[a.Model] = m
			}
			m.row.Attempts++
			m.row.CostUSD += a.CostMicros.USD()
			switch {
			case metrics.ChargesHealth(&a):
				m.row.Errors++
			case a.Outcome == trace.OutcomeOK:
				m.lat = append(m.lat, a.LatencyMS)
				if a.Stream && a.TTFTMS > 0 {
					m.ttft = append(m.ttft, a.TTFTMS)
				}
			}
		}
		if m := models[e.d.Model]; m != nil {
			m.row.Answered++
		}
	}
	for _, name := range snap.Order {
		if models[name] == nil {
			models[name] = &acc{row: ModelRow{Model: name}}
		}
	}
	for _, name := range sortedKeys(models) {
		m := models[name]
		if cm, ok := snap.Models[name]; ok {
			m.row.Provider, m.row.Tier = cm.Provider, cm.Labels["tier"]
		}
		m.row.ErrorRate = ratio(float64(m.row.Errors), float64(m.row.Attempts))
		m.row.LatencyMS, m.row.TTFTMS = percentiles(m.lat), percentiles(m.ttft)
		switch {
		case m.row.Attempts == 0:
			m.row.Health = "idle"
		case m.row.ErrorRate > 0.5:
			m.row.Health = "failing"
		case m.row.ErrorRate > 0.05:
			m.row.Health = "degraded"
		default:
			m.row.Health = "ok"
		}
		o.Models = append(o.Models, m.row)
	}
	sort.SliceStable(o.Models, func(i, j int) bool { return o.Models[i].Attempts > o.Models[j].Attempts })

	if s := h.opts.LogStats; s != nil {
		o.DecisionLog = &LogRow{Written: s.Written(), Dropped: s.Dropped(), WriteErrors: s.WriteErrors(), Queued: s.Queued()}
	}
	if dir := snap.Observability.ReportsDir; dir != "" {
		if files, err := reportFiles(dir); err == nil {
			o.EvalRoutes = sortedKeys(files)
		}
	}
	return o
}

func summarize(t totals, seconds float64) Totals {
	out := Totals{Requests: t.Requests, Errors: t.Errors, CostUSD: t.Cost.USD(), BaselineUSD: t.Baseline.USD(),
		SavingsUSD: (t.Baseline - t.Cost).USD()}
	out.ErrorRate = ratio(float64(t.Errors), float64(t.Requests))
	out.RPS = ratio(float64(t.Requests), seconds)
	out.SavingsShare = ratio(out.SavingsUSD, out.BaselineUSD)
	out.CostPerRequestUSD = ratio(out.CostUSD, float64(t.Requests))
	return out
}

func ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(a) {
		return 0
	}
	return a / b
}

// percentiles uses the nearest-rank method.
func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	sort.Float64s(xs)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(xs)))) - 1
		return xs[min(max(i, 0), len(xs)-1)]
	}
	return Percentiles{P50: at(0.5), P95: at(0.95), P99: at(0.99), N: len(xs)}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (h *handler) decisions(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			apiError(w, http.StatusBadRequest, "limit must be in [1,1000]")
			return
		}
		limit = n
	}
	route := r.URL.Query().Get("route")
	entries := h.opts.Recent.recentEntries(0, len(h.opts.Recent.ring))
	rows := []DecisionRow{}
	for _, e := range entries {
		if len(rows) == limit {
			break
		}
		if route != "" && e.route != route {
			continue
		}
		rows = append(rows, row(e))
	}
	writeJSON(w, rows)
}

func row(e entry) DecisionRow {
	d := e.d
	out := DecisionRow{RequestID: d.RequestID, Time: d.Time.UTC(), Route: e.route, Model: d.Model, Status: d.Status,
		Outcome: metrics.Outcome(d.Status), Stream: d.Stream, CostUSD: d.CostMicros.USD(), BaselineUSD: e.baseline.USD(),
		LatencyMS: d.LatencyMS, TTFTMS: d.TTFTMS, OverheadMS: e.overhead, TokensIn: d.Usage.PromptTokens,
		TokensOut: d.Usage.CompletionTokens, Attempts: len(d.Trace.Attempts), TraceID: d.TraceID, ErrorType: d.ErrorType}
	for _, x := range d.Trace.Decisions {
		if out.Decision != "" {
			out.Decision += " · "
		}
		out.Decision += x.Kind + ": " + x.Decision
		if len(out.Decision) > 200 {
			out.Decision = out.Decision[:200] + "…"
			break
		}
	}
	return out
}

// decisionDetail is GET /ui/api/decisions/{id}: the whole record (as
// GET /v1/decisions/{id} returns it) and its feedback.
type decisionDetail struct {
	Decision *store.Decision  `json:"decision"`
	Feedback []store.Feedback `json:"feedback"`
	// Source is "log" when read from the decision log, "memory" when only
	// the dashboard's ring still holds it (no log, or not yet written).
	Source      string  `json:"source"`
	BaselineUSD float64 `json:"baseline_usd"`
	OverheadMS  float64 `json:"overhead_ms"`
}

func (h *handler) decision(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	out := decisionDetail{Feedback: []store.Feedback{}}
	e, inRing := h.opts.Recent.find(id)
	if inRing {
		out.Decision, out.Source, out.BaselineUSD, out.OverheadMS = e.d, "memory", e.baseline.USD(), e.overhead
	}
	if l := h.opts.Log; l != nil {
		d, err := l.Get(r.Context(), id)
		switch {
		case err == nil:
			out.Decision, out.Source = d, "log"
			if fb, err := l.Feedback(r.Context(), id); err == nil {
				out.Feedback = fb
			}
		case !errors.Is(err, store.ErrNotFound):
			apiError(w, http.StatusInternalServerError, "could not read the decision log")
			return
		}
	}
	if out.Decision == nil {
		apiError(w, http.StatusNotFound, "no decision with this id")
		return
	}
	writeJSON(w, out)
}

func (h *handler) feedback(w http.ResponseWriter, r *http.Request) {
	if h.opts.Log == nil {
		apiError(w, http.StatusNotFound, "the decision log is disabled")
		return
	}
	var fb struct {
		RequestID string   `json:"request_id"`
		Score     *float64 `json:"score"`
		Label     string   `json:"label"`
		Comment   string   `json:"comment"`
	}
	if err := readJSON(w, r, &fb); err != nil {
		apiError(w, http.StatusBadRequest, "invalid feedback: "+err.Error())
		return
	}
	switch {
	case fb.RequestID == "":
		apiError(w, http.StatusBadRequest, "request_id is required")
		return
	case fb.Score == nil && fb.Label == "" && fb.Comment == "":
		apiError(w, http.StatusBadRequest, "feedback needs a score, a label or a comment")
		return
	case len(fb.Label) > 256 || len(fb.Comment) > 16<<10:
		apiError(w, http.StatusBadRequest, "label or comment too long")
		return
	case fb.Score != nil && (math.IsNaN(*fb.Score) || math.IsInf(*fb.Score, 0)):
		apiError(w, http.StatusBadRequest, "score must be a finite number")
		return
	}
	err := h.opts.Log.AddFeedback(r.Context(), store.Feedback{RequestID: fb.RequestID, Score: fb.Score, Label: fb.Label,
		Comment: fb.Comment, Time: time.Now().UTC()})
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, "no decision with this id")
	case errors.Is(err, store.ErrInvalid):
		apiError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		apiError(w, http.StatusInternalServerError, "could not store the feedback")
	default:
		writeJSON(w, map[string]string{"request_id": fb.RequestID, "status": "recorded"})
	}
}

func (h *handler) eval(w http.ResponseWriter, r *http.Request) {
	snap := h.opts.Snapshot()
	route := r.URL.Query().Get("route")
	if route == "" {
		apiError(w, http.StatusBadRequest, "route is required")
		return
	}
	v, err := loadEval(snap.Observability.ReportsDir, route)
	switch {
	case errors.Is(err, errNoReport):
		apiError(w, http.StatusNotFound, errNoReport.Error())
	case err != nil:
		apiError(w, http.StatusInternalServerError, "could not read the eval reports")
	default:
		writeJSON(w, v)
	}
}
