package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/store"
)

// upstreamSecret is the API key of the live model in these tests; it must
// never appear in anything a client can read.
const upstreamSecret = "sk-live-DISTINCTIVE-7f3a9c2e-never-show-me"

// fakeUpstream is an OpenAI-compatible server that fails every call with
// status and an error body built by body(key), where key is the bearer
// token it was sent.
func fakeUpstream(t *testing.T, status int, header map[string]string, body func(key string) string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body(key))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func liveConfig(baseURL string) string {
	return `
executor: {max_retries: 0}
models:
  - name: live
    provider: openai
    upstream: gpt-4o
    base_url: ` + baseURL + `
    api_key_env: LIVE_KEY
    price: {input: 1, output: 1}
  - name: small
    provider: sim
    options: {realtime: false, output_tokens: 5}
routes:
  backed: {fallback: [live, small]}
`
}

func openAIError(msg, typ, code string) string {
	return fmt.Sprintf(`{"error":{"message":%q,"type":%q,"param":null,"code":%q}}`, msg, typ, code)
}

// TestUpstreamStatusMapping checks what a client sees when the live model
// fails: a provider's auth, quota and server errors are the gateway's
// upstream failures (502), not the client's 401 or 500; rate limits,
// overload and timeouts keep their status; a caller fault the upstream
// found stays the caller's.
//
// Regression: the upstream's status was passed through, so a bad API key
// in Sextant's config reached the client as its own 401
// authentication_error, and a sim's or provider's 500 as a 500.
func TestUpstreamStatusMapping(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		want       int
		wantType   string
		retryAfter string
	}{
		{"upstream 401 is not the client's 401", 401, nil, openAIError("Incorrect API key provided", "invalid_request_error", "invalid_api_key"), 502, "upstream_error", ""},
		{"upstream 403", 403, nil, openAIError("forbidden", "permission_error", ""), 502, "upstream_error", ""},
		{"upstream 402", 402, nil, openAIError("pay up", "billing_error", ""), 502, "upstream_error", ""},
		{"upstream 500", 500, nil, openAIError("boom", "server_error", ""), 502, "upstream_error", ""},
		{"upstream 502", 502, nil, `bad gateway`, 502, "upstream_error", ""},
		{"upstream 503", 503, nil, openAIError("overloaded", "server_error", ""), 503, "upstream_error", ""},
		{"upstream 429", 429, map[string]string{"Retry-After": "7"}, openAIError("slow down", "requests", "rate_limit_exceeded"), 429, "rate_limit_error", "7"},
		{"upstream context too long", 400, nil, openAIError("too long", "invalid_request_error", "context_length_exceeded"), 400, "invalid_request_error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := fakeUpstream(t, tt.status, tt.header, func(string) string { return tt.body })
			f := newFixture(t, liveConfig(up.URL), map[string]string{"LIVE_KEY": upstreamSecret})
			w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("live", "hello", ""), nil)
			e := checkError(t, w, tt.want)
			if e.Error.Type != tt.wantType {
				t.Errorf("type = %q, want %q", e.Error.Type, tt.wantType)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			d := f.rec.only(t)
			if d.Status != tt.want || d.ErrorType != tt.wantType {
				t.Errorf("decision status %d type %q, want %d %q", d.Status, d.ErrorType, tt.want, tt.wantType)
			}
		})
	}
}

// TestNoSecretInResponses makes the live model's calls fail in ways that
// echo its API key, and checks that the key appears in no response body:
// not in errors, not in the trace, not in streams, not in the decision API.
func TestNoSecretInResponses(t *testing.T) {
	bodies := map[string]func(key string) string{
		"openai error": func(key string) string {
			return openAIError("Incorrect API key provided: "+key+".", "invalid_request_error", "invalid_api_key")
		},
		"plain text": func(key string) string { return "denied for Bearer " + key },
		"detail":     func(key string) string { return fmt.Sprintf(`{"detail":"bad key %s"}`, key) },
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			up := fakeUpstream(t, 401, nil, body)
			db, err := store.OpenSQLite(":memory:")
			if err != nil {
				t.Fatal(err)
			}
			log := store.NewLog(db, store.LogOptions{})
			t.Cleanup(func() { log.Close(context.Background()) })
			eng := engine.New(buildSnapshot(t, liveConfig(up.URL), map[string]string{"LIVE_KEY": upstreamSecret}), log)
			srv := New(eng, log, nil)

			var seen []string
			check := func(what string, w *httptest.ResponseRecorder) {
				t.Helper()
				seen = append(seen, w.Body.String())
				for k, v := range w.Header() {
					if strings.Contains(strings.Join(v, " "), upstreamSecret) {
						t.Errorf("%s: header %s holds the upstream key", what, k)
					}
				}
				if strings.Contains(w.Body.String(), upstreamSecret) || strings.Contains(w.Body.String(), "DISTINCTIVE") {
					t.Errorf("%s: body holds the upstream key:\n%s", what, w.Body)
				}
			}
			trace := map[string]string{HeaderTrace: "1"}
			w := serve(srv, http.MethodPost, "/v1/chat/completions", chatBody("live", "hi", ""), trace)
			check("direct error", w)
			if w.Code != http.StatusBadGateway {
				t.Errorf("status = %d, want 502", w.Code)
			}
			failedID := w.Header().Get("X-Request-Id")
			w = serve(srv, http.MethodPost, "/v1/chat/completions", chatBody("backed", "hi", ""), trace)
			check("fallback trace", w)
			if !strings.Contains(w.Body.String(), `"sextant"`) || !strings.Contains(w.Body.String(), `"outcome":"error"`) {
				t.Errorf("fallback answer lacks the failed attempt in its trace: %s", w.Body)
			}
			id := w.Header().Get("X-Request-Id")
			w = serve(srv, http.MethodPost, "/v1/chat/completions", chatBody("live", "hi", `"stream":true`), trace)
			check("stream error", w)
			w = serve(srv, http.MethodPost, "/v1/chat/completions", chatBody("backed", "hi", `"stream":true`), trace)
			check("stream fallback trace", w)
			w = serve(srv, http.MethodGet, "/v1/decisions/"+id, "", nil)
			check("decision", w)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"outcome":"error"`) {
				t.Errorf("decision %d: %s", w.Code, w.Body)
			}
			w = serve(srv, http.MethodGet, "/v1/decisions/"+failedID, "", nil)
			check("failed decision", w)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"error_type":"upstream_error"`) {
				t.Errorf("decision %d: %s", w.Code, w.Body)
			}
			w = serve(srv, http.MethodGet, "/v1/models/live", "", nil)
			check("model", w)
			w = serve(srv, http.MethodGet, "/v1/models", "", nil)
			check("models", w)
			if len(seen) != 8 {
				t.Fatalf("checked %d bodies", len(seen))
			}
		})
	}
}
