package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/trace"
)

func openTestSQLite(t *testing.T) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sextant.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func ptr[T any](v T) *T { return &v }

func TestSQLiteDecisionRoundTrip(t *testing.T) {
	minimal := Decision{RequestID: "min", Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	failed := Decision{
		RequestID: "failed", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Route: "large",
		Status: 503, ErrorType: "upstream_error", ErrorMessage: "all models failed", LatencyMS: 30000,
	}
	tests := []struct {
		name string
		in   Decision
		want Decision
	}{
		{"every field", sampleDecision("full"), sampleDecision("full")},
		{"minimal", minimal, minimal},
		{"error", failed, failed},
		{
			name: "non-finite latency reads back as zero",
			in:   Decision{RequestID: "nan", Time: minimal.Time, LatencyMS: math.NaN(), TTFTMS: math.Inf(1)},
			want: Decision{RequestID: "nan", Time: minimal.Time},
		},
		{
			name: "time in another zone reads back in UTC",
			in:   Decision{RequestID: "zone", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))},
			want: Decision{RequestID: "zone", Time: time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)},
		},
	}
	s, _ := openTestSQLite(t)
	ctx := t.Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.WriteDecisions(ctx, []Decision{tt.in}); err != nil {
				t.Fatalf("WriteDecisions: %v", err)
			}
			got, err := s.Decision(ctx, tt.in.RequestID)
			if err != nil {
				t.Fatalf("Decision: %v", err)
			}
			// A trace read back has empty, not nil, slices.
			want := tt.want
			if want.Trace.Decisions == nil && len(got.Trace.Decisions) == 0 {
				want.Trace.Decisions = got.Trace.Decisions
			}
			if want.Trace.Attempts == nil && len(got.Trace.Attempts) == 0 {
				want.Trace.Attempts = got.Trace.Attempts
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestSQLiteZeroTimeIsWriteTime(t *testing.T) {
	s, _ := openTestSQLite(t)
	before := time.Now()
	if err := s.WriteDecisions(t.Context(), []Decision{{RequestID: "a"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Decision(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Time.Before(before.Truncate(time.Microsecond)) {
		t.Errorf("Time = %v, want the write time (after %v)", got.Time, before)
	}
}

func TestSQLiteDecisionNotFound(t *testing.T) {
	s, _ := openTestSQLite(t)
	_, err := s.Decision(t.Context(), "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestSQLiteWriteInvalidBatchWritesNothing(t *testing.T) {
	tests := []struct {
		name string
		bad  Decision
	}{
		{"empty request id", Decision{}},
		{"trace that does not encode", Decision{RequestID: "bad", Trace: sampleTraceWith(math.NaN())}},
		{"labels are fine but trace is not", Decision{RequestID: "bad2", Labels: map[string]string{"a": "b"}, Trace: sampleTraceWith(math.Inf(-1))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTestSQLite(t)
			err := s.WriteDecisions(t.Context(), []Decision{sampleDecision("good"), tt.bad})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if _, err := s.Decision(t.Context(), "good"); !errors.Is(err, ErrNotFound) {
				t.Errorf("good record of a failed batch: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func sampleTraceWith(v float64) (tv trace.View) {
	tv.Decisions = append(tv.Decisions, trace.Decision{Node: "n", Data: map[string]any{"x": v}})
	return tv
}

func TestSQLiteUpsertKeepsFeedback(t *testing.T) {
	s, _ := openTestSQLite(t)
	ctx := t.Context()
	d := sampleDecision("r1")
	if err := s.WriteDecisions(ctx, []Decision{d}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddFeedback(ctx, Feedback{RequestID: "r1", Label: "good"}); err != nil {
		t.Fatal(err)
	}
	d.Model, d.Labels = "large", nil
	if err := s.WriteDecisions(ctx, []Decision{d, d}); err != nil {
		t.Fatalf("rewrite: %v", err)
	}
	got, err := s.Decision(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "large" || got.Labels != nil {
		t.Errorf("after rewrite Model=%q Labels=%v, want the new record", got.Model, got.Labels)
	}
	fbs, err := s.Feedback(ctx, "r1")
	if err != nil || len(fbs) != 1 {
		t.Errorf("feedback after rewrite = %v, %v; want the one given before", fbs, err)
	}
}

func TestSQLiteFeedback(t *testing.T) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)
	tests := []struct {
		name    string
		fb      Feedback
		wantErr error
	}{
		{"score", Feedback{RequestID: "r1", Score: ptr(0.75), Time: at}, nil},
		{"zero score is a score", Feedback{RequestID: "r1", Score: ptr(0.0), Time: at}, nil},
		{"label and comment", Feedback{RequestID: "r1", Label: "wrong", Comment: "made up a citation", Time: at}, nil},
		{"unknown request", Feedback{RequestID: "nope", Label: "good"}, ErrNotFound},
		{"empty request id", Feedback{Label: "good"}, ErrInvalid},
		{"nothing given", Feedback{RequestID: "r1"}, ErrInvalid},
		{"NaN score", Feedback{RequestID: "r1", Score: ptr(math.NaN())}, ErrInvalid},
		{"infinite score", Feedback{RequestID: "r1", Score: ptr(math.Inf(1))}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTestSQLite(t)
			ctx := t.Context()
			if err := s.WriteDecisions(ctx, []Decision{sampleDecision("r1")}); err != nil {
				t.Fatal(err)
			}
			err := s.AddFeedback(ctx, tt.fb)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("AddFeedback err = %v, want %v", err, tt.wantErr)
			}
			got, err := s.Feedback(ctx, "r1")
			if err != nil {
				t.Fatalf("Feedback: %v", err)
			}
			want := []Feedback{}
			if tt.wantErr == nil {
				want = append(want, tt.fb)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Feedback = %+v, want %+v", got, want)
			}
		})
	}
}

func TestSQLiteFeedbackOrderAndUnknown(t *testing.T) {
	s, _ := openTestSQLite(t)
	ctx := t.Context()
	if err := s.WriteDecisions(ctx, []Decision{sampleDecision("r1"), sampleDecision("r2")}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"first", "second", "third"} {
		if err := s.AddFeedback(ctx, Feedback{RequestID: "r1", Label: l}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Feedback(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, fb := range got {
		labels = append(labels, fb.Label)
		if fb.Time.IsZero() {
			t.Errorf("feedback %q has no time", fb.Label)
		}
	}
	if !reflect.DeepEqual(labels, []string{"first", "second", "third"}) {
		t.Errorf("labels = %v, want oldest first", labels)
	}
	if got, err := s.Feedback(ctx, "r2"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Feedback(no feedback) = %#v, %v; want an empty non-nil slice", got, err)
	}
	if _, err := s.Feedback(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Feedback(unknown) err = %v, want ErrNotFound", err)
	}
}

func TestSQLiteReopenKeepsDataAndSchema(t *testing.T) {
	s, path := openTestSQLite(t)
	ctx := t.Context()
	if err := s.WriteDecisions(ctx, []Decision{sampleDecision("r1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if _, err := s2.Decision(ctx, "r1"); err != nil {
		t.Errorf("after reopen: %v", err)
	}
	checks := []struct{ query, want string }{
		{"PRAGMA user_version", fmt.Sprint(SchemaVersion)},
		{"PRAGMA journal_mode", "wal"},
		{"PRAGMA foreign_keys", "1"},
		{"PRAGMA busy_timeout", "5000"},
		{"SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('decisions_time', 'decisions_route_time')", "2"},
	}
	for _, c := range checks {
		var got string
		if err := s2.db.QueryRowContext(ctx, c.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if got != c.want {
			t.Errorf("%s = %s, want %s", c.query, got, c.want)
		}
	}
}

// A database written by a schema version 1 build opens, migrates to the
// current version and keeps its decisions and feedback, which read back without
// a request; new decisions can then carry one.
func TestSQLiteMigratesV1ToV2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations[0],
		`INSERT INTO decisions (request_id, time_ns, route, model, status, cost_micros, trace)
			VALUES ('old', 1700000000000000000, 'auto', 'small', 200, 42, '{}')`,
		`INSERT INTO feedback (request_id, time_ns, score) VALUES ('old', 1700000000000000001, 0.5)`,
		"PRAGMA user_version = 1",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("open v1 database: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("user_version = %d (%v), want %d", v, err, SchemaVersion)
	}
	old, err := s.Decision(ctx, "old")
	if err != nil {
		t.Fatalf("v1 decision after migration: %v", err)
	}
	if old.Model != "small" || old.CostMicros != 42 || old.Request != nil {
		t.Errorf("v1 decision = %+v, want model small, cost 42, no request", old)
	}
	if fb, err := s.Feedback(ctx, "old"); err != nil || len(fb) != 1 || *fb[0].Score != 0.5 {
		t.Errorf("v1 feedback = %+v, %v", fb, err)
	}
	d := sampleDecision("new")
	if err := s.WriteDecisions(ctx, []Decision{d}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Decision(ctx, "new")
	if err != nil || string(got.Request) != string(d.Request) {
		t.Fatalf("request after migration = %s, %v; want %s", got.Request, err, d.Request)
	}
}

func TestSQLiteRejectsInvalidRequestJSON(t *testing.T) {
	s, _ := openTestSQLite(t)
	d := Decision{RequestID: "bad", Request: json.RawMessage(`{"model":`)}
	if err := s.WriteDecisions(t.Context(), []Decision{d}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestSQLiteRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := OpenSQLite(path)
	if err == nil {
		s.Close()
		t.Fatal("OpenSQLite of a newer schema succeeded")
	}
}

func TestOpenSQLiteBadPath(t *testing.T) {
	for _, path := range []string{"", "a.db?mode=ro", filepath.Join(t.TempDir(), "missing", "dir", "x.db")} {
		t.Run(path, func(t *testing.T) {
			s, err := OpenSQLite(path)
			if err == nil {
				s.Close()
				t.Fatalf("OpenSQLite(%q) succeeded", path)
			}
		})
	}
}

// Regression: every connection to ":memory:" is its own database, so a
// pooled connection opened for a concurrent read would see no tables.
func TestSQLiteMemorySharedAcrossGoroutines(t *testing.T) {
	s, err := OpenSQLite(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				id := string(rune('a'+g)) + string(rune('a'+i))
				if err := s.WriteDecisions(ctx, []Decision{{RequestID: id}}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Decision(ctx, id); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSQLiteContextCanceled(t *testing.T) {
	s, _ := openTestSQLite(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.WriteDecisions(ctx, []Decision{sampleDecision("r1")}); err == nil {
		t.Error("WriteDecisions with a canceled context succeeded")
	}
}

// BenchmarkSQLiteWriteDecisions measures the store's throughput for one
// default-sized batch of full records.
func BenchmarkSQLiteWriteDecisions(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]Decision, DefaultBatch)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			batch[i] = sampleDecision(fmt.Sprint("r", n))
			n++
		}
		if err := s.WriteDecisions(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
