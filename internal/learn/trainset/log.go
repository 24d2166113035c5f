package trainset

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// logRow is one answered decision with its latest feedback.
type logRow struct {
	id, model string
	request   *llm.Request // nil when the request was not logged
	score     sql.NullFloat64
	label     string
}

// readLog reads, read-only, the answered decisions (status below 400,
// with a model) of the decision log at path, with their latest feedback
// score and latest non-empty feedback label.
func readLog(ctx context.Context, path string) ([]logRow, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("decision log path %q must not contain '?' or '#'", path)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("decision log %s: %w", path, err)
	}
	defer db.Close()
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("decision log %s: %w", path, err)
	}
	if version < 1 {
		return nil, fmt.Errorf("%s is not a Sextant decision log (schema version %d)", path, version)
	}
	if version < 2 {
		return nil, fmt.Errorf("decision log %s (schema version %d) holds no requests to learn from: log them with store: {log_requests: true}", path, version)
	}
	rs, err := db.QueryContext(ctx, `SELECT d.request_id, d.model, d.request,
		(SELECT f.score FROM feedback f WHERE f.request_id = d.request_id AND f.score IS NOT NULL ORDER BY f.id DESC LIMIT 1),
		COALESCE((SELECT f.label FROM feedback f WHERE f.request_id = d.request_id AND f.label != '' ORDER BY f.id DESC LIMIT 1), '')
		FROM decisions d WHERE d.status < 400 AND d.model != '' ORDER BY d.time_ns, d.request_id`)
	if err != nil {
		return nil, fmt.Errorf("decision log %s: %w", path, err)
	}
	defer rs.Close()
	var out []logRow
	for rs.Next() {
		var (
			r   logRow
			req sql.NullString
		)
		if err := rs.Scan(&r.id, &r.model, &req, &r.score, &r.label); err != nil {
			return nil, fmt.Errorf("decision log %s: %w", path, err)
		}
		if req.Valid {
			r.request = &llm.Request{}
			if err := json.Unmarshal([]byte(req.String), r.request); err != nil {
				return nil, fmt.Errorf("decision log %s: decision %q: request: %w", path, r.id, err)
			}
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("decision log %s: %w", path, err)
	}
	return out, nil
}

var errNoGood = errors.New("a decision log's feedback scores need --good, the score at or above which an answer counts as good enough")

func winrateLog(rows []logRow, o *Options, set *Set) error {
	for _, r := range rows {
		switch {
		case r.request == nil:
			set.Skipped["decisions logged without their request"]++
		case !r.score.Valid:
			set.Skipped["decisions without a feedback score"]++
		case o.Good == nil:
			return errNoGood
		default:
			set.Samples = append(set.Samples, learn.Sample{
				ID: r.id, X: Example(r.request), Good: map[string]bool{r.model: r.score.Float64 >= *o.Good}, Group: "log",
			})
		}
	}
	return nil
}

func classifierLog(rows []logRow, o *Options, set *Set) error {
	for _, r := range rows {
		label := r.label
		switch {
		case r.request == nil:
			set.Skipped["decisions logged without their request"]++
			continue
		case label != "":
		case !r.score.Valid:
			set.Skipped["decisions without feedback"]++
			continue
		case o.Good == nil:
			return errNoGood
		case r.score.Float64 >= *o.Good:
			label = r.model
		default:
			set.Skipped["decisions whose answer was not good enough and have no feedback label"]++
			continue
		}
		set.Samples = append(set.Samples, learn.Sample{ID: r.id, X: Example(r.request), Label: label, Group: "log"})
	}
	return nil
}
