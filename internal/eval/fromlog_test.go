package eval

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

func score(v float64) *float64 { return &v }

func TestFromLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	st, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Unix(1700000000, 0)
	attempt := func(model string, cost int64) trace.Attempt {
		return trace.Attempt{Model: model, Outcome: trace.OutcomeOK, CostMicros: catalogMicros(cost)}
	}
	ds := []store.Decision{
		// A cascade: small failed the check, big answered.
		{RequestID: "r1", Time: at, Route: "auto", Model: "big", Status: 200, CostMicros: 110, LatencyMS: 100,
			Trace: trace.View{Attempts: []trace.Attempt{attempt("small", 10), attempt("big", 100)}}},
		{RequestID: "r2", Time: at.Add(time.Second), Route: "auto", Model: "small", Status: 200, CostMicros: 10, LatencyMS: 300,
			Trace: trace.View{Attempts: []trace.Attempt{attempt("small", 10)}}},
		{RequestID: "r3", Time: at.Add(2 * time.Second), Route: "auto", Status: 502, ErrorType: "upstream_error",
			Trace: trace.View{Attempts: []trace.Attempt{{Model: "small", Outcome: trace.OutcomeError}}}},
		{RequestID: "r4", Time: at.Add(3 * time.Second), Route: "other", Model: "big", Status: 200, CostMicros: 100, LatencyMS: 50,
			Trace: trace.View{Attempts: []trace.Attempt{attempt("big", 100)}}},
	}
	if err := st.WriteDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	for _, fb := range []store.Feedback{
		{RequestID: "r1", Score: score(0.2)},
		{RequestID: "r1", Score: score(0.9)}, // the latest score counts
		{RequestID: "r1", Label: "later, no score"},
		{RequestID: "r2", Score: score(0.5)},
	} {
		if err := st.AddFeedback(ctx, fb); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	rep, err := FromLog(ctx, path, "auto")
	if err != nil {
		t.Fatal(err)
	}
	if rep.N != 3 || rep.Failed != 1 || rep.WithFeedback != 2 || rep.CostMicros != 120 {
		t.Fatalf("report %+v", rep)
	}
	check(t, "quality", *rep.Quality, (0.9+0.5)/2)
	check(t, "big answered", rep.ByModel["big"].AnsweredShare, 1.0/3)
	check(t, "calls to small", rep.ByModel["small"].CallShare, 3.0/4)
	check(t, "big feedback", *rep.ByModel["big"].Quality, 0.9)
	check(t, "p50", rep.LatencyMS.P50, 200)
	if rep.Rerun != NoRequestBodies {
		t.Errorf("rerun %q", rep.Rerun)
	}
	all, err := FromLog(ctx, path, "")
	if err != nil || all.N != 4 {
		t.Fatalf("all routes: %+v %v", all, err)
	}
	if _, err := FromLog(ctx, path, "nope"); err == nil || !strings.Contains(err.Error(), `no decisions for route "nope"`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := FromLog(ctx, filepath.Join(t.TempDir(), "missing.db"), ""); err == nil {
		t.Fatal("a missing log did not fail")
	}
	var b bytes.Buffer
	for _, f := range []string{"table", "markdown", "json"} {
		b.Reset()
		if err := WriteLogReport(&b, rep, f); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "request messages") {
			t.Errorf("%s output misses the re-run note:\n%s", f, b.String())
		}
	}
}
