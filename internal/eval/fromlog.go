package eval

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/trace"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// NoRequestBodies says why logged requests cannot be re-run: the decision
// log (internal/store, schema version 1) keeps what was decided and what it
// cost, not what was asked.
const NoRequestBodies = "the decision log stores no request messages (store.Decision has no prompt), so logged requests " +
	"cannot be re-run through another route; this is the traffic as it was served. Re-running needs the log to keep " +
	"each request's messages (e.g. a request_json column written by the engine, opt-in for privacy)"

// LogReport summarises logged traffic as it was served: the same figures
// as a Summary where the log has them, with feedback scores as quality.
type LogReport struct {
	Source string `json:"source"`
	// Route filters the decisions by the route or model clients named; ""
	// takes all.
	Route string `json:"route,omitempty"`
	N     int    `json:"n"`
	// Failed counts requests answered with an error status (>= 400).
	Failed int `json:"failed"`
	// WithFeedback counts requests with a feedback score; Quality is the
	// mean of their latest scores, null when none has one.
	WithFeedback int      `json:"with_feedback"`
	Quality      *float64 `json:"quality"`
	CostUSD      float64  `json:"cost_usd"`
	CostMicros   int64    `json:"cost_micros"`
	// CostPerRequestUSD is CostUSD over N.
	CostPerRequestUSD float64 `json:"cost_per_request_usd"`
	// ByModel has, per model, the share of requests it answered, the share
	// of calls made to it (from the traces) and the mean feedback score of
	// its answers.
	ByModel map[string]ModelStats `json:"by_model"`
	// LatencyMS has percentiles of the logged (wall-clock) latency.
	LatencyMS Latency `json:"latency_ms"`
	// Rerun says why the requests were not re-run (NoRequestBodies).
	Rerun string `json:"rerun"`
}

// FromLog reads the SQLite decision log at path, read-only, and summarises
// the decisions of route ("" for all) with their feedback.
func FromLog(ctx context.Context, path, route string) (*LogReport, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("eval: decision log path %q must not contain '?' or '#'", path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("eval: decision log: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("eval: decision log: %w", err)
	}
	defer db.Close()
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("eval: decision log %s: %w", path, err)
	}
	if version < 1 {
		return nil, fmt.Errorf("eval: %s is not a Sextant decision log (schema version %d)", path, version)
	}
	q := `SELECT d.request_id, d.model, d.status, d.cost_micros, d.latency_ms, d.trace,
		(SELECT f.score FROM feedback f WHERE f.request_id = d.request_id AND f.score IS NOT NULL ORDER BY f.id DESC LIMIT 1)
		FROM decisions d`
	var args []any
	if route != "" {
		q += ` WHERE d.route = ?`
		args = append(args, route)
	}
	q += ` ORDER BY d.time_ns, d.request_id`
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("eval: decision log %s: %w", path, err)
	}
	defer rows.Close()
	rep := &LogReport{Source: path, Route: route, ByModel: map[string]ModelStats{}, Rerun: NoRequestBodies}
	type acc struct {
		answered, calls, scored int
		cost                    catalog.Micros
		score                   float64
	}
	per := map[string]*acc{}
	get := func(m string) *acc {
		a := per[m]
		if a == nil {
			a = &acc{}
			per[m] = a
		}
		return a
	}
	var total catalog.Micros
	var scoreSum float64
	var latencies []float64
	allCalls := 0
	for rows.Next() {
		var (
			id, model, traceJSON string
			status               int
			cost                 int64
			latency, score       sql.NullFloat64
		)
		if err := rows.Scan(&id, &model, &status, &cost, &latency, &traceJSON, &score); err != nil {
			return nil, fmt.Errorf("eval: decision log %s: %w", path, err)
		}
		rep.N++
		total += catalog.Micros(cost)
		var view trace.View
		if err := json.Unmarshal([]byte(traceJSON), &view); err != nil {
			return nil, fmt.Errorf("eval: decision log %s: decision %q: trace: %w", path, id, err)
		}
		for _, a := range view.Attempts {
			m := get(a.Model)
			m.calls++
			m.cost += a.CostMicros
			allCalls++
		}
		if status >= 400 || model == "" {
			rep.Failed++
			continue
		}
		get(model).answered++
		if latency.Valid {
			latencies = append(latencies, latency.Float64)
		}
		if score.Valid {
			rep.WithFeedback++
			scoreSum += score.Float64
			get(model).scored++
			get(model).score += score.Float64
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eval: decision log %s: %w", path, err)
	}
	if rep.N == 0 {
		if route != "" {
			return nil, fmt.Errorf("eval: decision log %s has no decisions for route %q", path, route)
		}
		return nil, errors.New("eval: the decision log is empty")
	}
	rep.CostMicros, rep.CostUSD = int64(total), total.USD()
	rep.CostPerRequestUSD = total.USD() / float64(rep.N)
	if rep.WithFeedback > 0 {
		q := scoreSum / float64(rep.WithFeedback)
		rep.Quality = &q
	}
	for name, a := range per {
		ms := ModelStats{Answered: a.answered, Calls: a.calls, CostUSD: a.cost.USD(), AnsweredShare: float64(a.answered) / float64(rep.N)}
		if allCalls > 0 {
			ms.CallShare = float64(a.calls) / float64(allCalls)
		}
		if a.scored > 0 {
			q := a.score / float64(a.scored)
			ms.Quality = &q
		}
		rep.ByModel[name] = ms
	}
	sort.Float64s(latencies)
	rep.LatencyMS = Latency{P50: Percentile(latencies, 50), P90: Percentile(latencies, 90), P99: Percentile(latencies, 99)}
	if len(latencies) > 0 {
		s := 0.0
		for _, l := range latencies {
			s += l
		}
		rep.LatencyMS.Mean = s / float64(len(latencies))
	}
	return rep, nil
}
