package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/store"
)

// modelsConfig has one model of each source and two routes, to check the
// order and labels of GET /v1/models.
const modelsConfig = `
models:
  - name: live-one
    provider: openai
    upstream: gpt-4o
    base_url: http://127.0.0.1:1/v1
    api_key_env: LIVE_KEY
    price: {input: 2.5, output: 10, cached: 1.25}
    context_window: 128000
    capabilities: [streaming, tools]
  - name: recorded
    provider: replay
    upstream: gpt-4-1106-preview
    options: {dataset: "builtin:demo", realtime: false}
  - name: org/simulated
    provider: sim
    options: {realtime: false}
routes:
  zeta: live-one
  alpha: {fallback: [recorded, org/simulated]}
`

func TestModels(t *testing.T) {
	f := newFixture(t, modelsConfig, map[string]string{"LIVE_KEY": "k"})
	w := f.do(http.MethodGet, "/v1/models", "", nil)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
	var list struct {
		Object string       `json:"object"`
		Data   []modelEntry `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if list.Object != "list" {
		t.Errorf("object = %q", list.Object)
	}
	type row struct{ id, kind, source, provider string }
	want := []row{
		{"alpha", "route", "", ""},
		{"zeta", "route", "", ""},
		{"live-one", "model", "live", "openai"},
		{"recorded", "model", "replay", "replay"},
		{"org/simulated", "model", "sim", "sim"},
	}
	if len(list.Data) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(list.Data), len(want), list.Data)
	}
	for i, e := range list.Data {
		if got := (row{e.ID, e.Kind, e.Source, e.Provider}); got != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got, want[i])
		}
		if e.Object != "model" || e.OwnedBy != "sextant" {
			t.Errorf("entry %d: object %q owned_by %q", i, e.Object, e.OwnedBy)
		}
		if (e.Kind == "route") != (e.Price == nil) {
			t.Errorf("entry %d: price %+v for a %s", i, e.Price, e.Kind)
		}
	}
	live := list.Data[2]
	if live.Upstream != "gpt-4o" || live.ContextWindow != 128000 || strings.Join(live.Capabilities, ",") != "streaming,tools" ||
		*live.Price != (priceView{Input: 2.5, Output: 10, Cached: 1.25}) {
		t.Errorf("live model = %+v (price %+v)", live, *live.Price)
	}
}

// TestModel checks GET /v1/models/{name} for a model, a route and an
// unknown name.
func TestModel(t *testing.T) {
	f := newFixture(t, modelsConfig, map[string]string{"LIVE_KEY": "k"})
	tests := []struct {
		name, path string
		status     int
		kind       string
		source     string
	}{
		{"model", "/v1/models/recorded", 200, "model", "replay"},
		{"route", "/v1/models/alpha", 200, "route", ""},
		{"model name with a slash", "/v1/models/org/simulated", 200, "model", "sim"},
		{"escaped slash", "/v1/models/org%2Fsimulated", 200, "model", "sim"},
		{"unknown", "/v1/models/nope", 404, "", ""},
		{"unknown with a slash", "/v1/models/org/nope", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(http.MethodGet, tt.path, "", nil)
			if tt.status != 200 {
				e := checkError(t, w, tt.status)
				if str(e.Error.Code) != "model_not_found" || str(e.Error.Param) != "model" || e.Error.Type != "not_found_error" {
					t.Errorf("error = %+v", e.Error)
				}
				return
			}
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var e modelEntry
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if e.Kind != tt.kind || e.Source != tt.source || e.Object != "model" {
				t.Errorf("entry = %+v", e)
			}
		})
	}
}

// TestModelNameWithSlash is a regression test: GET /v1/models/{name}
// matched one path segment, so a model named like "org/simulated" (names
// may hold slashes, as upstream names often do) answered 404 unknown_url.
func TestModelNameWithSlash(t *testing.T) {
	f := newFixture(t, modelsConfig, map[string]string{"LIVE_KEY": "k"})
	w := f.do(http.MethodGet, "/v1/models/org/simulated", "", nil)
	var e modelEntry
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.ID != "org/simulated" {
		t.Errorf("status %d: %s", w.Code, w.Body)
	}
	if w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("org/simulated", "hi", ""), nil); w.Code != http.StatusOK {
		t.Errorf("chat with the model: %d %s", w.Code, w.Body)
	}
}

// logFixture is a server with a real decision log on an in-memory SQLite
// store.
func logFixture(t *testing.T) (*Server, *store.Log) {
	t.Helper()
	db, err := store.OpenSQLite(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	log := store.NewLog(db, store.LogOptions{})
	t.Cleanup(func() { log.Close(context.Background()) })
	eng := engine.New(buildSnapshot(t, testConfig, nil), log)
	return New(eng, log, nil), log
}

func TestDecisions(t *testing.T) {
	srv, log := logFixture(t)
	w := serve(srv, http.MethodPost, "/v1/chat/completions", chatBody("auto", "hello", ""), nil)
	if w.Code != 200 {
		t.Fatalf("chat: %d %s", w.Code, w.Body)
	}
	id, cost := w.Header().Get("X-Request-Id"), w.Header().Get(HeaderCost)
	for _, flushed := range []bool{false, true} {
		if flushed {
			if err := log.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		w = serve(srv, http.MethodGet, "/v1/decisions/"+id, "", nil)
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("flushed=%v: status %d %s", flushed, w.Code, w.Body)
		}
		var d store.Decision
		if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if d.RequestID != id || d.Route != "auto" || d.Model != "small" || d.Status != 200 || len(d.Trace.Attempts) != 2 ||
			d.Usage.TotalTokens == 0 || d.CostMicros.String() != cost {
			t.Errorf("flushed=%v: decision = %+v", flushed, d)
		}
	}
	for _, path := range []string{"/v1/decisions/not-a-request", "/v1/decisions/" + strings.ToUpper(id)} {
		e := checkError(t, serve(srv, http.MethodGet, path, "", nil), 404)
		if str(e.Error.Code) != "not_found" || e.Error.Type != "not_found_error" {
			t.Errorf("%s: %+v", path, e.Error)
		}
	}
}

// TestDecisionsWithoutLog checks the decision and feedback API when no
// decision log is kept.
func TestDecisionsWithoutLog(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	e := checkError(t, f.do(http.MethodGet, "/v1/decisions/x", "", nil), 404)
	if !strings.Contains(e.Error.Message, "disabled") {
		t.Errorf("message = %q", e.Error.Message)
	}
	checkError(t, f.do(http.MethodPost, "/v1/feedback", `{"request_id":"x","score":1}`, nil), 404)
}

func TestFeedback(t *testing.T) {
	srv, log := logFixture(t)
	w := serve(srv, http.MethodPost, "/v1/chat/completions", chatBody("small", "hello", ""), nil)
	if w.Code != 200 {
		t.Fatalf("chat: %d %s", w.Code, w.Body)
	}
	id := w.Header().Get("X-Request-Id")
	tests := []struct {
		name   string
		body   string
		ct     string
		status int
		param  string // for 400s; "<null>" for null
	}{
		{"score", `{"request_id":"` + id + `","score":0.75}`, "", 200, ""},
		{"label and comment", `{"request_id":"` + id + `","label":"good","comment":"nice"}`, "", 200, ""},
		{"zero score", `{"request_id":"` + id + `","score":0}`, "", 200, ""},
		{"unknown request", `{"request_id":"nope","score":1}`, "", 404, ""},
		{"missing request_id", `{"score":1}`, "", 400, "request_id"},
		{"empty body", ``, "", 400, "request_id"},
		{"nothing to record", `{"request_id":"` + id + `"}`, "", 400, "score"},
		{"score is a string", `{"request_id":"` + id + `","score":"high"}`, "", 400, "score"},
		{"request_id is a number", `{"request_id":7,"score":1}`, "", 400, "request_id"},
		{"label is a list", `{"request_id":"` + id + `","label":["a"]}`, "", 400, "label"},
		{"unknown field", `{"request_id":"` + id + `","score":1,"rating":5}`, "", 400, "rating"},
		{"not an object", `[1]`, "", 400, "<null>"},
		{"invalid JSON", `{"request_id":`, "", 400, "request_id"},
		{"duplicate key", `{"request_id":"` + id + `","score":1,"score":2}`, "", 400, "score"},
		{"trailing data", `{"request_id":"` + id + `","score":1} {}`, "", 400, "<null>"},
		{"label too long", `{"request_id":"` + id + `","label":"` + strings.Repeat("x", 257) + `"}`, "", 400, "label"},
		{"comment too long", `{"request_id":"` + id + `","comment":"` + strings.Repeat("x", 16<<10+1) + `"}`, "", 400, "comment"},
		{"body too large", `{"request_id":"` + id + `","comment":"` + strings.Repeat("x", 64<<10) + `"}`, "", 413, "<null>"},
		{"not JSON content", `{"request_id":"` + id + `","score":1}`, "text/plain", 415, "<null>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": "application/json"}
			if tt.ct != "" {
				h["Content-Type"] = tt.ct
			}
			w := serve(srv, http.MethodPost, "/v1/feedback", tt.body, h)
			if tt.status == 200 {
				if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
				var got map[string]string
				json.Unmarshal(w.Body.Bytes(), &got)
				if got["request_id"] != id || got["status"] != "recorded" {
					t.Errorf("answer = %s", w.Body)
				}
				return
			}
			e := checkError(t, w, tt.status)
			if tt.status == 400 {
				if got := str(e.Error.Param); got != tt.param {
					t.Errorf("param = %q, want %q (message %q)", got, tt.param, e.Error.Message)
				}
				if e.Error.Type != "invalid_request_error" {
					t.Errorf("type = %q", e.Error.Type)
				}
			}
		})
	}
	fb, err := log.Feedback(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(fb) != 3 {
		t.Errorf("%d feedback records stored, want 3: %+v", len(fb), fb)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	check := func(path string, status int, want map[string]any) {
		t.Helper()
		w := f.do(http.MethodGet, path, "", nil)
		if w.Code != status || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: status %d Content-Type %q", path, w.Code, w.Header().Get("Content-Type"))
		}
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", path, k, got[k], v)
			}
		}
	}
	check("/healthz", 200, map[string]any{"status": "ok"})
	check("/readyz", 200, map[string]any{"status": "ready", "models": 5.0, "routes": 3.0})
	f.srv.Drain()
	check("/readyz", 503, map[string]any{"status": "draining"})
	check("/healthz", 200, map[string]any{"status": "ok"})
	// Draining stops new traffic at the balancer; requests that still come
	// are served.
	if w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("small", "hi", ""), nil); w.Code != 200 {
		t.Errorf("chat while draining: %d", w.Code)
	}
}
