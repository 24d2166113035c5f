package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

const rerunConfig = `
models:
  - name: small
    provider: sim
    price: {input: 1000, output: 2000}
    options: {reply: "small says {{.Prompt}}", ttft: 100ms, tokens_per_second: 100}
  - name: big
    provider: sim
    price: {input: 10000, output: 30000}
    options: {reply: "big says {{.Prompt}}"}
  - name: down
    provider: sim
    options: {error_rate: 1}
routes:
  cheap: {fallback: [small]}
  dead: {fallback: [down]}
`

// writeRerunLog writes a decision log in which r1–r3 have their request
// and r4 has none (logged without log_requests).
func writeRerunLog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.db")
	st, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Unix(1700000000, 0)
	req := func(prompt string) json.RawMessage {
		return json.RawMessage(`{"model":"auto","stream":true,"messages":[{"role":"user","content":"` + prompt + `"}]}`)
	}
	attempt := func(model string, cost int64) trace.View {
		return trace.View{Attempts: []trace.Attempt{{Model: model, Outcome: trace.OutcomeOK, CostMicros: catalogMicros(cost)}}}
	}
	ds := []store.Decision{
		{RequestID: "r1", Time: at, Route: "auto", Model: "small", Status: 200, CostMicros: 10, LatencyMS: 100, Trace: attempt("small", 10), Request: req("one")},
		{RequestID: "r2", Time: at.Add(time.Second), Route: "auto", Model: "big", Status: 200, CostMicros: 100, LatencyMS: 300, Trace: attempt("big", 100), Request: req("two")},
		{RequestID: "r3", Time: at.Add(2 * time.Second), Route: "auto", Model: "small", Status: 200, CostMicros: 10, LatencyMS: 200, Trace: attempt("small", 10), Request: req("three")},
		{RequestID: "r4", Time: at.Add(3 * time.Second), Route: "auto", Model: "big", Status: 200, CostMicros: 100, Trace: attempt("big", 100)},
	}
	if err := st.WriteDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	for _, fb := range []store.Feedback{
		{RequestID: "r1", Score: score(0.2)},
		{RequestID: "r1", Score: score(0.8)}, // the latest score counts
		{RequestID: "r2", Score: score(0.4)},
		{RequestID: "r4", Score: score(1)},
	} {
		if err := st.AddFeedback(ctx, fb); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func rerunOptions(t *testing.T, route string) RerunOptions {
	t.Helper()
	f, err := config.Parse([]byte(rerunConfig))
	if err != nil {
		t.Fatal(err)
	}
	return RerunOptions{File: f, ConfigName: "rerun.yaml", Route: route}
}

func TestRerunFromLog(t *testing.T) {
	path := writeRerunLog(t)
	ctx := context.Background()
	rep, err := Rerun(ctx, path, rerunOptions(t, "cheap"))
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Rerun
	// r1 is answered by small again and keeps its feedback; r2 (logged
	// big) and r3 (no feedback) are unlabeled; r4 has no request.
	if rep.Skipped != 1 || s.N != 3 || s.Labeled != 1 || s.Unlabeled != 2 || s.Failed != 0 || rep.SameModel != 2 {
		t.Fatalf("re-run %+v, skipped %d, same model %d", s, rep.Skipped, rep.SameModel)
	}
	check(t, "re-run quality", s.Quality, 0.8)
	small := s.ByModel["small"]
	if small.Answered != 3 || small.Calls != 3 || s.ByModel["big"].Calls != 0 {
		t.Errorf("by model %+v", s.ByModel)
	}
	if s.CostMicros <= 0 || s.CostUSD != small.CostUSD {
		t.Errorf("re-run cost %d micros ($%v), small $%v", s.CostMicros, s.CostUSD, small.CostUSD)
	}
	if s.LatencyMS.P50 < 100 {
		t.Errorf("modeled latency %+v, want at least small's 100ms ttft", s.LatencyMS)
	}
	// The logged side covers the same three requests.
	l := rep.Logged
	if l.N != 3 || l.CostMicros != 120 || l.WithFeedback != 2 {
		t.Fatalf("logged %+v", l)
	}
	check(t, "logged quality", *l.Quality, (0.8+0.4)/2)

	// Deterministic: a second re-run gives the same figures.
	again, err := Rerun(ctx, path, rerunOptions(t, "cheap"))
	if err != nil || again.Rerun.CostMicros != s.CostMicros {
		t.Fatalf("second re-run: %+v, %v", again, err)
	}

	var b bytes.Buffer
	for _, f := range []string{"table", "markdown", "json"} {
		b.Reset()
		if err := WriteRerunReport(&b, rep, f); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "re-run model is the model that answered") {
			t.Errorf("%s output misses the quality note:\n%s", f, b.String())
		}
	}
}

func TestRerunFailures(t *testing.T) {
	path := writeRerunLog(t)
	ctx := context.Background()
	rep, err := Rerun(ctx, path, rerunOptions(t, "dead"))
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Rerun; s.N != 3 || s.Failed != 3 || len(s.Errors) == 0 || s.Labeled != 0 {
		t.Errorf("re-run through a failing route: %+v", s)
	}
	tests := []struct {
		name string
		opts func(*RerunOptions)
		want string
	}{
		{name: "unknown route", opts: func(o *RerunOptions) { o.Route = "nope" }, want: `no route or model "nope"`},
		{name: "no logged requests", opts: func(o *RerunOptions) { o.LogRoute = "other" }, want: `no decisions for route "other"`},
		{name: "live model", opts: func(o *RerunOptions) { o.File.Models[0].Provider = "openai" }, want: "calls the network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := rerunOptions(t, "cheap")
			tt.opts(&o)
			if _, err := Rerun(ctx, path, o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
