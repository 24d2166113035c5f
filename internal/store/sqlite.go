package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SchemaVersion is the schema version this build writes, kept in the
// database's user_version. OpenSQLite migrates older databases up to it and
// refuses newer ones.
const SchemaVersion = 4

// BusyTimeout is how long a statement waits for another connection's
// (or process's) write lock before failing with SQLITE_BUSY.
const BusyTimeout = 5 * time.Second

// migrations[i] takes the schema from version i to i+1. Append only: a
// released migration is never edited.
var migrations = []string{
	// 1: decisions and feedback. Times are unix nanoseconds UTC; query
	// them with datetime(time_ns / 1e9, 'unixepoch'). usage_* mirror
	// llm.Usage; labels and trace are JSON.
	`CREATE TABLE decisions (
		request_id        TEXT    NOT NULL PRIMARY KEY,
		time_ns           INTEGER NOT NULL,
		route             TEXT    NOT NULL DEFAULT '',
		model             TEXT    NOT NULL DEFAULT '',
		status            INTEGER NOT NULL DEFAULT 0,
		error_type        TEXT    NOT NULL DEFAULT '',
		error_message     TEXT    NOT NULL DEFAULT '',
		stream            INTEGER NOT NULL DEFAULT 0,
		prompt_tokens     INTEGER NOT NULL DEFAULT 0,
		completion_tokens INTEGER NOT NULL DEFAULT 0,
		total_tokens      INTEGER NOT NULL DEFAULT 0,
		cached_tokens     INTEGER NOT NULL DEFAULT 0,
		reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
		usage_estimated   INTEGER NOT NULL DEFAULT 0,
		cost_micros       INTEGER NOT NULL DEFAULT 0,
		latency_ms        REAL,
		ttft_ms           REAL,
		caller_key        TEXT    NOT NULL DEFAULT '',
		caller_tier       TEXT    NOT NULL DEFAULT '',
		category          TEXT    NOT NULL DEFAULT '',
		labels            TEXT,
		trace             TEXT    NOT NULL DEFAULT '{}'
	);
	CREATE INDEX decisions_time ON decisions (time_ns);
	CREATE INDEX decisions_route_time ON decisions (route, time_ns);
	CREATE TABLE feedback (
		id         INTEGER PRIMARY KEY,
		request_id TEXT    NOT NULL REFERENCES decisions (request_id) ON DELETE CASCADE,
		time_ns    INTEGER NOT NULL,
		score      REAL,
		label      TEXT    NOT NULL DEFAULT '',
		comment    TEXT    NOT NULL DEFAULT ''
	);
	CREATE INDEX feedback_request ON feedback (request_id, id);`,
	// 2: the request as served (Decision.Request), JSON; NULL unless the
	// store was configured with log_requests.
	`ALTER TABLE decisions ADD COLUMN request TEXT;`,
	// 3: the OpenTelemetry trace id (Decision.TraceID), 32 hex digits;
	// '' when tracing was off.
	`ALTER TABLE decisions ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';`,
	// 4: the durable state of package tally (TallyStore): one blob per
	// kind ("vector", "value") and key; updated_ns is unix nanoseconds.
	`CREATE TABLE tally (
		kind       TEXT    NOT NULL,
		key        TEXT    NOT NULL,
		value      BLOB    NOT NULL,
		updated_ns INTEGER NOT NULL,
		PRIMARY KEY (kind, key)
	) WITHOUT ROWID;`,
}

const decisionColumns = `request_id, time_ns, route, model, status, error_type, error_message, stream,
	prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens, usage_estimated,
	cost_micros, latency_ms, ttft_ms, caller_key, caller_tier, category, labels, trace, request, trace_id`

var upsertDecision = `INSERT INTO decisions (` + decisionColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (request_id) DO UPDATE SET ` + upsertSet()

func upsertSet() string {
	var b strings.Builder
	for i, c := range strings.Split(decisionColumns, ",") {
		c = strings.TrimSpace(c)
		if c == "request_id" {
			continue
		}
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = excluded." + c)
	}
	return b.String()
}

// SQLite is the default Store: one database file in WAL mode, so readers
// never wait for the writer. It is safe for concurrent use, also by several
// processes sharing the file (writes then wait up to BusyTimeout).
type SQLite struct {
	db *sql.DB
}

// OpenSQLite opens or creates the database at path and migrates its schema
// to SchemaVersion. path is a file name (not a URI); ":memory:" opens a
// private in-memory database, for tests, that lives until Close.
//
// It fails when the file cannot be opened, when path contains '?', or when
// the database was written by a newer build (user_version > SchemaVersion).
func OpenSQLite(path string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: sqlite: empty path")
	}
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("store: sqlite: path %q must not contain '?'", path)
	}
	memory := path == ":memory:"
	if strings.HasPrefix(path, "file:") {
		path = "./" + path // a file name, not a URI
	}
	dsn := fmt.Sprintf("%s?_busy_timeout=%d&_foreign_keys=1&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate",
		path, BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	if memory {
		// Each connection to ":memory:" is a separate database: keep one
		// connection, forever.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	s := &SQLite{db: db}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// migrate brings the schema to SchemaVersion, one version per transaction.
// _txlock=immediate takes the write lock at BEGIN, so two processes opening
// the same file migrate one after the other.
func (s *SQLite) migrate(ctx context.Context) error {
	for {
		done, err := s.migrateOne(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func (s *SQLite) migrateOne(ctx context.Context) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("store: sqlite: read schema version: %w", err)
	}
	switch {
	case v == len(migrations):
		return true, nil
	case v > len(migrations):
		return false, fmt.Errorf("store: sqlite: schema version %d is newer than this build supports (%d)", v, SchemaVersion)
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("store: sqlite: migrate to schema version %d: %w", v+1, err)
	}
	// PRAGMA takes no parameters; v+1 is an int.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("store: sqlite: set schema version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: sqlite: migrate to schema version %d: %w", v+1, err)
	}
	return false, nil
}

// WriteDecisions implements Store: one transaction for the whole batch.
func (s *SQLite) WriteDecisions(ctx context.Context, ds []Decision) error {
	if len(ds) == 0 {
		return nil
	}
	// Encode everything first, so an invalid record fails before the
	// write lock is taken.
	args := make([][]any, len(ds))
	now := time.Now()
	for i := range ds {
		a, err := decisionArgs(&ds[i], now)
		if err != nil {
			return err
		}
		args[i] = a
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: sqlite: write decisions: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, upsertDecision)
	if err != nil {
		return fmt.Errorf("store: sqlite: write decisions: %w", err)
	}
	defer stmt.Close()
	for _, a := range args {
		if _, err := stmt.ExecContext(ctx, a...); err != nil {
			return fmt.Errorf("store: sqlite: write decision %q: %w", a[0], err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: sqlite: write decisions: %w", err)
	}
	return nil
}

func decisionArgs(d *Decision, now time.Time) ([]any, error) {
	if err := validDecision(d); err != nil {
		return nil, err
	}
	t := d.Time
	if t.IsZero() {
		t = now
	}
	var labels any // NULL when there are none
	if len(d.Labels) > 0 {
		b, err := json.Marshal(d.Labels)
		if err != nil {
			return nil, invalidf("decision %q: labels: %v", d.RequestID, err)
		}
		labels = string(b)
	}
	tr, err := json.Marshal(d.Trace)
	if err != nil {
		return nil, invalidf("decision %q: trace: %v", d.RequestID, err)
	}
	var request any // NULL when not logged
	if len(d.Request) > 0 {
		if !json.Valid(d.Request) {
			return nil, invalidf("decision %q: request: not valid JSON", d.RequestID)
		}
		request = string(d.Request)
	}
	u := d.Usage
	return []any{
		d.RequestID, t.UnixNano(), d.Route, d.Model, d.Status, d.ErrorType, d.ErrorMessage, d.Stream,
		u.PromptTokens, u.CompletionTokens, u.TotalTokens, u.CachedTokens, u.ReasoningTokens, u.Estimated,
		int64(d.CostMicros), finite(d.LatencyMS), finite(d.TTFTMS), d.CallerKey, d.CallerTier, d.Category,
		labels, string(tr), request, d.TraceID,
	}, nil
}

// finite stores NaN and ±Inf as NULL, which reads back as 0.
func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// Decision implements Store.
func (s *SQLite) Decision(ctx context.Context, id string) (*Decision, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+decisionColumns+` FROM decisions WHERE request_id = ?`, id)
	var (
		d                Decision
		timeNS, cost     int64
		latency, ttft    sql.NullFloat64
		labels, request  sql.NullString
		traceJSON        string
		stream, estimate bool
	)
	u := &d.Usage
	err := row.Scan(&d.RequestID, &timeNS, &d.Route, &d.Model, &d.Status, &d.ErrorType, &d.ErrorMessage, &stream,
		&u.PromptTokens, &u.CompletionTokens, &u.TotalTokens, &u.CachedTokens, &u.ReasoningTokens, &estimate,
		&cost, &latency, &ttft, &d.CallerKey, &d.CallerTier, &d.Category, &labels, &traceJSON, &request, &d.TraceID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("decision %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: read decision %q: %w", id, err)
	}
	d.Time = time.Unix(0, timeNS).UTC()
	d.Stream, u.Estimated = stream, estimate
	d.CostMicros = catalog.Micros(cost)
	d.LatencyMS, d.TTFTMS = latency.Float64, ttft.Float64
	if labels.Valid {
		if err := json.Unmarshal([]byte(labels.String), &d.Labels); err != nil {
			return nil, fmt.Errorf("store: sqlite: decision %q: labels: %w", id, err)
		}
	}
	if err := json.Unmarshal([]byte(traceJSON), &d.Trace); err != nil {
		return nil, fmt.Errorf("store: sqlite: decision %q: trace: %w", id, err)
	}
	if request.Valid {
		d.Request = json.RawMessage(request.String)
	}
	return &d, nil
}

// AddFeedback implements Store. The existence check and the insert are one
// statement, so feedback never refers to a missing decision.
func (s *SQLite) AddFeedback(ctx context.Context, fb Feedback) error {
	if err := validFeedback(&fb); err != nil {
		return err
	}
	t := fb.Time
	if t.IsZero() {
		t = time.Now()
	}
	var score any
	if fb.Score != nil {
		score = *fb.Score
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO feedback (request_id, time_ns, score, label, comment)
		SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM decisions WHERE request_id = ?)`,
		fb.RequestID, t.UnixNano(), score, fb.Label, fb.Comment, fb.RequestID)
	if err != nil {
		return fmt.Errorf("store: sqlite: add feedback for %q: %w", fb.RequestID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: sqlite: add feedback for %q: %w", fb.RequestID, err)
	}
	if n == 0 {
		return fmt.Errorf("decision %q: %w", fb.RequestID, ErrNotFound)
	}
	return nil
}

// Feedback implements Store.
func (s *SQLite) Feedback(ctx context.Context, id string) ([]Feedback, error) {
	// The LEFT JOIN tells "no decision" (no row) from "no feedback" (one
	// row of NULLs) in one consistent read.
	rows, err := s.db.QueryContext(ctx, `SELECT f.time_ns, f.score, f.label, f.comment
		FROM decisions d LEFT JOIN feedback f ON f.request_id = d.request_id
		WHERE d.request_id = ? ORDER BY f.id`, id)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: read feedback for %q: %w", id, err)
	}
	defer rows.Close()
	found := false
	out := []Feedback{}
	for rows.Next() {
		found = true
		var (
			timeNS         sql.NullInt64
			score          sql.NullFloat64
			label, comment sql.NullString
		)
		if err := rows.Scan(&timeNS, &score, &label, &comment); err != nil {
			return nil, fmt.Errorf("store: sqlite: read feedback for %q: %w", id, err)
		}
		if !timeNS.Valid {
			continue // the decision has no feedback
		}
		fb := Feedback{RequestID: id, Time: time.Unix(0, timeNS.Int64).UTC(), Label: label.String, Comment: comment.String}
		if score.Valid {
			fb.Score = &score.Float64
		}
		out = append(out, fb)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: read feedback for %q: %w", id, err)
	}
	if !found {
		return nil, fmt.Errorf("decision %q: %w", id, ErrNotFound)
	}
	return out, nil
}

// LoadTally implements TallyStore.
func (s *SQLite) LoadTally(ctx context.Context, kind, key string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM tally WHERE kind = ? AND key = ?`, kind, key).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tally %s %q: %w", kind, key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: read tally %s %q: %w", kind, key, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// SaveTally implements TallyStore: one transaction for all of blobs.
func (s *SQLite) SaveTally(ctx context.Context, blobs []TallyBlob) error {
	if len(blobs) == 0 {
		return nil
	}
	for _, b := range blobs {
		if err := validTallyBlob(&b); err != nil {
			return err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: sqlite: save tally: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO tally (kind, key, value, updated_ns) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, updated_ns = excluded.updated_ns`)
	if err != nil {
		return fmt.Errorf("store: sqlite: save tally: %w", err)
	}
	defer stmt.Close()
	now := time.Now().UnixNano()
	for _, b := range blobs {
		v := b.Value
		if v == nil {
			v = []byte{} // NOT NULL
		}
		if _, err := stmt.ExecContext(ctx, b.Kind, b.Key, v, now); err != nil {
			return fmt.Errorf("store: sqlite: save tally %s %q: %w", b.Kind, b.Key, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: sqlite: save tally: %w", err)
	}
	return nil
}

// Close implements Store. It lets SQLite refresh its query planner
// statistics, then closes every connection.
func (s *SQLite) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), BusyTimeout)
	defer cancel()
	_, _ = s.db.ExecContext(ctx, "PRAGMA optimize") // best effort
	return s.db.Close()
}

var (
	_ Store      = (*SQLite)(nil)
	_ TallyStore = (*SQLite)(nil)
)
