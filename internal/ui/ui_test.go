package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/eval"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func testSnapshot(adminKey string, clientKeys bool) *config.Snapshot {
	s := &config.Snapshot{
		File: &config.File{},
		Models: map[string]*catalog.Model{
			"small": {Name: "small", Provider: "sim", Price: catalog.Price{Input: catalog.RateFromUSD(1), Output: catalog.RateFromUSD(1)}, Labels: map[string]string{"tier": "economy"}},
			"big":   {Name: "big", Provider: "sim", Price: catalog.Price{Input: catalog.RateFromUSD(10), Output: catalog.RateFromUSD(30)}},
		},
		Order:         []string{"small", "big"},
		RouteOrder:    []string{"auto", "idle"},
		Keys:          map[string]config.Key{},
		Observability: config.Observability{AdminKey: conf.Secret(adminKey), Baseline: "big"},
	}
	if clientKeys {
		s.Keys["client-secret"] = config.Key{Name: "team"}
	}
	return s
}

var seq int

// request makes a finished request on route that model answered (after
// a failed try on failed, if set) at the clock's time.
func request(c *clock, snap *config.Snapshot, route, model, failed string, status int, decisions ...trace.Decision) *engine.Finished {
	seq++
	d := &store.Decision{RequestID: "req-" + string(rune('a'+seq%26)) + time.Duration(seq).String(), Time: c.now().Add(-100 * time.Millisecond),
		Route: route, Model: model, Status: status, LatencyMS: 100, CostMicros: 20,
		Usage: llm.Usage{PromptTokens: 100, CompletionTokens: 100}, Trace: trace.View{Decisions: decisions}}
	if failed != "" {
		d.Trace.Attempts = append(d.Trace.Attempts, trace.Attempt{Model: failed, Provider: "sim", Outcome: trace.OutcomeError, ErrorClass: "transient", StartMS: 1, LatencyMS: 10})
	}
	if model != "" {
		d.Trace.Attempts = append(d.Trace.Attempts, trace.Attempt{Model: model, Provider: "sim", Outcome: trace.OutcomeOK, StartMS: 20, LatencyMS: 70,
			Usage: llm.Usage{PromptTokens: 100, CompletionTokens: 100}, CostMicros: 20, Stream: true, TTFTMS: 30})
	}
	kind := "route"
	if route == "who-knows" {
		kind = ""
	}
	return &engine.Finished{Decision: d, Kind: kind, Snapshot: snap}
}

type env struct {
	t     *testing.T
	clock *clock
	snap  *config.Snapshot
	rec   *Recent
	log   *store.Log
	srv   *httptest.Server
}

func newEnv(t *testing.T, snap *config.Snapshot, withLog bool) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 5, 1, 12, 0, 2, 0, time.UTC)}
	e := &env{t: t, clock: c, snap: snap, rec: NewRecent(100, c.now)}
	o := Options{Snapshot: func() *config.Snapshot { return snap }, Recent: e.rec}
	if withLog {
		db, err := store.OpenSQLite(":memory:")
		if err != nil {
			t.Fatal(err)
		}
		e.log = store.NewLog(db, store.LogOptions{})
		t.Cleanup(func() { e.log.Close(context.Background()) })
		o.Log, o.LogStats = e.log, e.log
	}
	e.srv = httptest.NewServer(Handler(o))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) observe(f *engine.Finished) {
	e.rec.Observe(f)
	if e.log != nil {
		e.log.Record(*f.Decision)
	}
}

func (e *env) do(method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestAccess(t *testing.T) {
	cookie := CookieName + "=" + session("admin-secret")
	tests := []struct {
		name       string
		admin      string
		clientKeys bool
		hdr        map[string]string
		api, page  int
	}{
		{"open gateway, no admin key", "", false, nil, 200, 200},
		{"client keys but no admin key: disabled", "", true, map[string]string{"Authorization": "Bearer client-secret"}, 403, 403},
		{"admin key missing: login page", "admin-secret", false, nil, 401, 200},
		{"admin key as bearer", "admin-secret", true, map[string]string{"Authorization": "Bearer admin-secret"}, 200, 200},
		{"admin key as x-api-key", "admin-secret", true, map[string]string{"X-Api-Key": "admin-secret"}, 200, 200},
		{"wrong bearer", "admin-secret", false, map[string]string{"Authorization": "Bearer nope"}, 401, 200},
		{"client key is not admin", "admin-secret", true, map[string]string{"Authorization": "Bearer client-secret"}, 401, 200},
		{"session cookie", "admin-secret", false, map[string]string{"Cookie": cookie}, 200, 200},
		{"forged cookie", "admin-secret", false, map[string]string{"Cookie": CookieName + "=" + session("other")}, 401, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, testSnapshot(tt.admin, tt.clientKeys), false)
			if resp, body := e.do("GET", "/ui/api/overview", "", tt.hdr); resp.StatusCode != tt.api {
				t.Errorf("api status %d, want %d: %s", resp.StatusCode, tt.api, body)
			}
			resp, body := e.do("GET", "/ui/", "", tt.hdr)
			if resp.StatusCode != tt.page {
				t.Errorf("page status %d, want %d", resp.StatusCode, tt.page)
			}
			wantPage := map[int]string{200: `src="/ui/static/app.js"`, 403: "admin.key_env"}[tt.page]
			if tt.api == 401 {
				wantPage = `action="/ui/login"`
			}
			if !bytes.Contains(body, []byte(wantPage)) {
				t.Errorf("page lacks %q", wantPage)
			}
			// Assets and the redirect need no key.
			if resp, _ := e.do("GET", "/ui/static/style.css", "", nil); resp.StatusCode != 200 {
				t.Errorf("style.css: %d", resp.StatusCode)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, testSnapshot("admin-secret", false), false)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	resp, body := e.do("POST", "/ui/login", url.Values{"key": {"wrong"}}.Encode(), form)
	if resp.StatusCode != 401 || !bytes.Contains(body, []byte("not the admin key")) || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong key: %d %s", resp.StatusCode, body)
	}
	resp, _ = e.do("POST", "/ui/login", url.Values{"key": {"admin-secret"}}.Encode(), form)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("right key: %d cookies %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui" || strings.Contains(c.Value, "admin-secret") {
		t.Errorf("cookie = %+v", c)
	}
	if resp, _ := e.do("GET", "/ui/api/decisions", "", map[string]string{"Cookie": c.Name + "=" + c.Value}); resp.StatusCode != 200 {
		t.Errorf("api with the session: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/ui", "", nil); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := e.do("GET", "/ui/", "", nil); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("CSP = %q", resp.Header.Get("Content-Security-Policy"))
	}
}

func TestOverview(t *testing.T) {
	snap := testSnapshot("", false)
	e := newEnv(t, snap, true)
	gate := func(v string) trace.Decision {
		return trace.Decision{Kind: "gate", Decision: v, Data: map[string]any{"gate": "structure"}}
	}
	// An old request, outside a 1-minute window but inside 5 minutes.
	e.observe(request(e.clock, snap, "auto", "big", "", 200))
	e.clock.add(2 * time.Minute)
	e.observe(request(e.clock, snap, "auto", "small", "", 200, gate("pass"), trace.Decision{Kind: "cascade", Decision: "accept"}))
	e.observe(request(e.clock, snap, "auto", "small", "", 200, gate("pass"), trace.Decision{Kind: "cascade", Decision: "accept"}))
	e.observe(request(e.clock, snap, "auto", "big", "small", 200, gate("fail"), trace.Decision{Kind: "cascade", Decision: "escalate"}))
	e.observe(request(e.clock, snap, "who-knows", "", "", 404))
	e.observe(request(e.clock, snap, "auto", "", "big", 502))

	var o Overview
	get := func(path string, v any) {
		resp, body := e.do("GET", path, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatal(err)
		}
	}
	get("/ui/api/overview?window=60", &o)
	if o.Window.Requests != 5 || o.Window.Errors != 1 || o.WindowS != 60 || len(o.Series.T) != 12 {
		t.Errorf("window totals %+v, %d buckets", o.Window, len(o.Series.T))
	}
	if o.Lifetime.Requests != 6 {
		t.Errorf("lifetime requests %d", o.Lifetime.Requests)
	}
	// Each request costs 20 µ$; on big an answer's 100+100 tokens would
	// cost 0.004 $, and three answered.
	if math.Abs(o.Window.CostUSD-100e-6) > 1e-12 || math.Abs(o.Window.BaselineUSD-0.012) > 1e-12 || o.Baseline != "big" {
		t.Errorf("cost %v baseline %v (%s)", o.Window.CostUSD, o.Window.BaselineUSD, o.Baseline)
	}
	var sum int64
	for _, n := range o.Series.Requests {
		sum += n
	}
	if sum != 5 {
		t.Errorf("series sums to %d", sum)
	}
	routes := map[string]RouteMix{}
	for _, r := range o.Routes {
		routes[r.Route] = r
	}
	if a := routes["auto"]; a.Requests != 4 || len(a.Models) != 3 || a.Models[0].Model != "small" || a.Models[0].Share != 0.5 {
		t.Errorf("auto mix = %+v", a)
	}
	if r := routes["idle"]; r.Kind != "route" || r.Requests != 0 {
		t.Errorf("idle route = %+v", r)
	}
	if r := routes["_unknown"]; r.Kind != "unknown" || r.Requests != 1 {
		t.Errorf("unknown = %+v", r)
	}
	if len(o.Gates) != 1 || o.Gates[0].Pass != 2 || o.Gates[0].Fail != 1 || o.Gates[0].PassRate < 0.66 || o.Gates[0].PassRate > 0.67 {
		t.Errorf("gates = %+v", o.Gates)
	}
	if o.Cascade.Accept != 2 || o.Cascade.Escalate != 1 {
		t.Errorf("cascade = %+v", o.Cascade)
	}
	models := map[string]ModelRow{}
	for _, m := range o.Models {
		models[m.Model] = m
	}
	if m := models["small"]; m.Attempts != 3 || m.Errors != 1 || m.Health != "degraded" || m.Tier != "economy" || m.LatencyMS.P50 != 70 || m.TTFTMS.P50 != 30 {
		t.Errorf("small = %+v", m)
	}
	if m := models["big"]; m.Attempts != 2 || m.Errors != 1 || m.Answered != 1 {
		t.Errorf("big = %+v", m)
	}
	if o.DecisionLog == nil {
		t.Error("no decision log row")
	}
	if o.Circuits != nil || o.Budgets != nil {
		t.Error("circuits or budgets reported without a source")
	}
	get("/ui/api/overview?window=300", &o)
	if o.Window.Requests != 6 {
		t.Errorf("5-minute window has %d requests", o.Window.Requests)
	}
	if resp, _ := e.do("GET", "/ui/api/overview?window=7200", "", nil); resp.StatusCode != 400 {
		t.Errorf("window too long: %d", resp.StatusCode)
	}
}

func TestDecisionsAndFeedback(t *testing.T) {
	snap := testSnapshot("", false)
	e := newEnv(t, snap, true)
	f := request(e.clock, snap, "auto", "small", "big", 200, trace.Decision{Node: "routes.auto.fallback[0]", Kind: "fallback", Decision: "fail over"})
	e.observe(f)
	var rows []DecisionRow
	_, body := e.do("GET", "/ui/api/decisions?limit=10", "", nil)
	if err := json.Unmarshal(body, &rows); err != nil || len(rows) != 1 {
		t.Fatalf("rows %s (%v)", body, err)
	}
	r := rows[0]
	if r.RequestID != f.Decision.RequestID || r.Attempts != 2 || r.Decision != "fallback: fail over" || r.OverheadMS != 100-80 || r.Outcome != "ok" {
		t.Errorf("row = %+v", r)
	}

	id := f.Decision.RequestID
	resp, body := e.do("POST", "/ui/api/feedback", `{"request_id":"`+id+`","score":0.9,"label":"good"}`, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 {
		t.Fatalf("feedback: %d %s", resp.StatusCode, body)
	}
	var det decisionDetail
	_, body = e.do("GET", "/ui/api/decisions/"+id, "", nil)
	if err := json.Unmarshal(body, &det); err != nil {
		t.Fatal(err)
	}
	if det.Source != "log" || det.Decision.RequestID != id || len(det.Decision.Trace.Attempts) != 2 || len(det.Feedback) != 1 || det.Feedback[0].Label != "good" {
		t.Errorf("detail = %s", body)
	}
	for _, bad := range []struct{ body, ct string }{
		{`{"request_id":"` + id + `"}`, "application/json"},
		{`{"request_id":"","score":1}`, "application/json"},
		{`{"request_id":"x","score":1,"extra":1}`, "application/json"},
		{`{"request_id":"` + id + `","score":1}`, "text/plain"},
	} {
		if resp, body := e.do("POST", "/ui/api/feedback", bad.body, map[string]string{"Content-Type": bad.ct}); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", bad.body, resp.StatusCode, body)
		}
	}
	if resp, _ := e.do("POST", "/ui/api/feedback", `{"request_id":"nope","score":1}`, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != 404 {
		t.Errorf("feedback on unknown id: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/ui/api/decisions/nope", "", nil); resp.StatusCode != 404 {
		t.Errorf("unknown decision: %d", resp.StatusCode)
	}
}

// Without a decision log the trace still opens from memory.
func TestDecisionFromMemory(t *testing.T) {
	snap := testSnapshot("", false)
	e := newEnv(t, snap, false)
	f := request(e.clock, snap, "auto", "small", "", 200)
	e.observe(f)
	var det decisionDetail
	resp, body := e.do("GET", "/ui/api/decisions/"+f.Decision.RequestID, "", nil)
	if err := json.Unmarshal(body, &det); err != nil || resp.StatusCode != 200 || det.Source != "memory" || det.BaselineUSD != 0.004 {
		t.Errorf("detail %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do("POST", "/ui/api/feedback", `{"request_id":"x","score":1}`, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != 404 {
		t.Errorf("feedback without a log: %d", resp.StatusCode)
	}
}

func TestRingWrapsAround(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	r := NewRecent(3, c.now)
	snap := testSnapshot("", false)
	var last []string
	for range 5 {
		f := request(c, snap, "auto", "small", "", 200)
		r.Observe(f)
		last = append(last, f.Decision.RequestID)
	}
	got := r.recentEntries(0, 10)
	if len(got) != 3 || got[0].d.RequestID != last[4] || got[2].d.RequestID != last[2] {
		t.Errorf("ring holds %d, newest %s", len(got), got[0].d.RequestID)
	}
	if _, ok := r.find(last[0]); ok {
		t.Error("evicted request still found")
	}
	// A bucket is reused after the 30-minute wheel turns.
	c.add(Buckets * BucketSeconds * time.Second)
	r.Observe(request(c, snap, "auto", "small", "", 200))
	bs, _ := r.window(1)
	if bs[0].totals.Requests != 1 {
		t.Errorf("reused bucket has %d requests", bs[0].totals.Requests)
	}
}

func TestRecentConcurrent(t *testing.T) {
	r := NewRecent(50, nil)
	snap := testSnapshot("", false)
	c := &clock{t: time.Now()}
	fs := make([]*engine.Finished, 8)
	for i := range fs {
		fs[i] = request(c, snap, "auto", "small", "big", 200, trace.Decision{Kind: "gate", Decision: "pass"})
	}
	h := &handler{opts: Options{Snapshot: func() *config.Snapshot { return snap }, Recent: r}}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				r.Observe(fs[(i+j)%len(fs)])
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			h.buildOverview(snap, 5*time.Minute)
		}
	})
	wg.Wait()
	if life, _ := r.lifetime(); life.Requests != 800 {
		t.Errorf("requests = %d", life.Requests)
	}
}

// The report sextant eval writes is what the dashboard reads: marshal a
// real eval.Report so a change of its shape breaks this test.
func TestEvalReport(t *testing.T) {
	dir := t.TempDir()
	knob := 0.5
	rep := eval.Report{Route: "auto", Strong: "big", Weak: "small",
		Summary: eval.Summary{N: 10, Quality: 0.8, CostShare: 0.4, StrongShare: 0.3},
		Knob:    &eval.KnobInfo{Kind: "cascade", Field: "threshold", Value: &knob},
		Baselines: []eval.Baseline{
			{Model: "small", Summary: eval.Summary{Labeled: 10, Quality: 0.6, CostShare: 0.05}},
			{Model: "big", Summary: eval.Summary{Labeled: 10, Quality: 0.9, CostShare: 1}},
			{Model: "sim", Summary: eval.Summary{Unlabeled: 10, CostShare: 0.5}},
		},
		Curve: &eval.Curve{Points: []eval.Point{
			{Knob: 0.9, Summary: eval.Summary{Quality: 0.85, CostShare: 0.7}},
			{Knob: 0.1, Summary: eval.Summary{Quality: 0.65, CostShare: 0.1}},
		}},
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"old/auto", "new/auto"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sub, "report.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "old/auto/report.json"), old, old)
	os.WriteFile(filepath.Join(dir, "notes.json"), []byte("{"), 0o644)

	snap := testSnapshot("", false)
	snap.Observability.ReportsDir = dir
	e := newEnv(t, snap, false)
	resp, body := e.do("GET", "/ui/api/eval?route=auto", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("eval: %d %s", resp.StatusCode, body)
	}
	var v evalView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if v.File != filepath.Join("new", "auto", "report.json") || v.Configured.Quality != 0.8 || len(v.Points) != 2 ||
		v.Points[0].CostShare != 0.1 || *v.Points[0].Knob != 0.1 || len(v.Baselines) != 2 || v.Knob != "cascade.threshold" {
		t.Errorf("view = %s", body)
	}
	if resp, _ := e.do("GET", "/ui/api/eval?route=idle", "", nil); resp.StatusCode != 404 {
		t.Errorf("route without a report: %d", resp.StatusCode)
	}
	var o Overview
	_, body = e.do("GET", "/ui/api/overview", "", nil)
	json.Unmarshal(body, &o)
	if len(o.EvalRoutes) != 1 || o.EvalRoutes[0] != "auto" {
		t.Errorf("eval routes = %v", o.EvalRoutes)
	}
}

// The dashboard loads nothing from the network: no absolute URLs in its
// assets.
func TestAssetsAreSelfContained(t *testing.T) {
	err := fs.WalkDir(static, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := static.ReadFile(path)
		s := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if strings.Contains(s, "http://") || strings.Contains(s, "https://") || strings.Contains(s, "//cdn") {
			t.Errorf("%s refers to the network", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func BenchmarkRecentObserve(b *testing.B) {
	r := NewRecent(2000, nil)
	c := &clock{t: time.Now()}
	f := request(c, testSnapshot("", false), "auto", "small", "big", 200, trace.Decision{Kind: "gate", Decision: "pass", Data: map[string]any{"gate": "g"}})
	b.ReportAllocs()
	for b.Loop() {
		r.Observe(f)
	}
}
