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

// NoRequestBodies says how logged requests can be re-run: only those the
// log kept the request of, which it does only when asked.
const NoRequestBodies = "this is the traffic as it was served. To re-run it through another route, give --config and --route; " +
	"only decisions logged with their request messages (store: {log_requests: true}, schema version 2) can be re-run"

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
	// Rerun says how the requests can be re-run (NoRequestBodies); empty
	// in a RerunReport.
	Rerun string `json:"rerun,omitempty"`
}

// logRow is one logged decision as eval reads it.
type logRow struct {
	id, model string
	status    int
	cost      catalog.Micros
	latency   sql.NullFloat64
	view      trace.View
	// score is the latest feedback score.
	score sql.NullFloat64
	// request is the request as served, nil when it was not logged.
	request json.RawMessage
}

// FromLog reads the SQLite decision log at path, read-only, and summarises
// the decisions of route ("" for all) with their feedback.
func FromLog(ctx context.Context, path, route string) (*LogReport, error) {
	rows, err := readLog(ctx, path, route)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, noDecisions(path, route)
	}
	rep := summarizeLog(path, route, rows)
	rep.Rerun = NoRequestBodies
	return rep, nil
}

func noDecisions(path, route string) error {
	if route != "" {
		return fmt.Errorf("eval: decision log %s has no decisions for route %q", path, route)
	}
	return errors.New("eval: the decision log is empty")
}

// readLog reads the decisions of route ("" for all) in time order, with
// their latest feedback score and, from schema version 2 on, their
// request.
func readLog(ctx context.Context, path, route string) ([]logRow, error) {
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
	request := "NULL"
	if version >= 2 {
		request = "d.request"
	}
	q := `SELECT d.request_id, d.model, d.status, d.cost_micros, d.latency_ms, d.trace,
		(SELECT f.score FROM feedback f WHERE f.request_id = d.request_id AND f.score IS NOT NULL ORDER BY f.id DESC LIMIT 1),
		` + request + `
		FROM decisions d`
	var args []any
	if route != "" {
		q += ` WHERE d.route = ?`
		args = append(args, route)
	}
	q += ` ORDER BY d.time_ns, d.request_id`
	rs, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("eval: decision log %s: %w", path, err)
	}
	defer rs.Close()
	var out []logRow
	for rs.Next() {
		var (
			r         logRow
			traceJSON string
			cost      int64
			req       sql.NullString
		)
		if err := rs.Scan(&r.id, &r.model, &r.status, &cost, &r.latency, &traceJSON, &r.score, &req); err != nil {
			return nil, fmt.Errorf("eval: decision log %s: %w", path, err)
		}
		r.cost = catalog.Micros(cost)
		if err := json.Unmarshal([]byte(traceJSON), &r.view); err != nil {
			return nil, fmt.Errorf("eval: decision log %s: decision %q: trace: %w", path, r.id, err)
		}
		if req.Valid {
			r.request = json.RawMessage(req.String)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("eval: decision log %s: %w", path, err)
	}
	return out, nil
}

// summarizeLog aggregates logged decisions; rows must not be empty.
func summarizeLog(path, route string, rows []logRow) *LogReport {
	rep := &LogReport{Source: path, Route: route, ByModel: map[string]ModelStats{}}
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
	for i := range rows {
		r := &rows[i]
		rep.N++
		total += r.cost
		for _, a := range r.view.Attempts {
			m := get(a.Model)
			m.calls++
			m.cost += a.CostMicros
			allCalls++
		}
		if r.status >= 400 || r.model == "" {
			rep.Failed++
			continue
		}
		get(r.model).answered++
		if r.latency.Valid {
			latencies = append(latencies, r.latency.Float64)
		}
		if r.score.Valid {
			rep.WithFeedback++
			scoreSum += r.score.Float64
			get(r.model).scored++
			get(r.model).score += r.score.Float64
		}
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
	return rep
}
