package gateway

import (
	"net/http"
	"testing"
)

// authConfig adds virtual keys to testConfig: with keys configured the
// gateway refuses anonymous callers.
const authConfig = testConfig + `
keys:
  - {name: alice, key_env: KEY_ALICE, tier: pro, metadata: {team: ml}}
  - {name: bob, key_env: KEY_BOB, tier: free}
`

var authEnv = map[string]string{"KEY_ALICE": "sk-alice-0123456789", "KEY_BOB": "sk-bob-9876543210"}

// TestAuth checks that with keys configured a request needs a valid key,
// that the key's tier reaches the policy tree (the "tiered" route sends
// tier pro to big and everyone else to small), and that the decision
// names the key but never holds its value.
func TestAuth(t *testing.T) {
	tests := []struct {
		name      string
		header    map[string]string
		status    int
		wantModel string
		wantKey   string
		wantTier  string
	}{
		{"no credentials", nil, 401, "", "", ""},
		{"wrong bearer", map[string]string{"Authorization": "Bearer sk-alice-wrong"}, 401, "", "", ""},
		{"key as a prefix", map[string]string{"Authorization": "Bearer sk-alice-012345678"}, 401, "", "", ""},
		{"key with a suffix", map[string]string{"Authorization": "Bearer sk-alice-01234567890"}, 401, "", "", ""},
		{"basic scheme", map[string]string{"Authorization": "Basic sk-alice-0123456789"}, 401, "", "", ""},
		{"bare token", map[string]string{"Authorization": "sk-alice-0123456789"}, 401, "", "", ""},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, 401, "", "", ""},
		{"pro bearer", map[string]string{"Authorization": "Bearer sk-alice-0123456789"}, 200, "big", "alice", "pro"},
		{"lower-case scheme", map[string]string{"Authorization": "bearer sk-alice-0123456789"}, 200, "big", "alice", "pro"},
		{"free bearer", map[string]string{"Authorization": "Bearer sk-bob-9876543210"}, 200, "small", "bob", "free"},
		{"x-api-key", map[string]string{"X-Api-Key": "sk-bob-9876543210"}, 200, "small", "bob", "free"},
		{"wrong x-api-key wins over a good bearer", map[string]string{"X-Api-Key": "nope", "Authorization": "Bearer sk-alice-0123456789"}, 401, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, authConfig, authEnv)
			w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("tiered", "hello there", ""), tt.header)
			if tt.status != http.StatusOK {
				e := checkError(t, w, tt.status)
				if e.Error.Type != "authentication_error" || str(e.Error.Code) != "invalid_api_key" {
					t.Errorf("error = %+v", e.Error)
				}
				if len(f.rec.all()) != 0 {
					t.Errorf("a refused request was recorded: %+v", f.rec.all())
				}
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", w.Code, w.Body)
			}
			if got := w.Header().Get(HeaderModel); got != tt.wantModel {
				t.Errorf("%s = %q, want %q (the tier did not reach the rules)", HeaderModel, got, tt.wantModel)
			}
			d := f.rec.only(t)
			if d.CallerKey != tt.wantKey || d.CallerTier != tt.wantTier {
				t.Errorf("decision caller = %q/%q, want %q/%q", d.CallerKey, d.CallerTier, tt.wantKey, tt.wantTier)
			}
		})
	}
}

// TestAuthOpenWithoutKeys checks that with no keys configured any or no
// credential is accepted and the caller is anonymous.
func TestAuthOpenWithoutKeys(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer whatever"}} {
		w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("tiered", "hello", ""), h)
		if w.Code != http.StatusOK || w.Header().Get(HeaderModel) != "small" {
			t.Errorf("status %d, model %q; body %s", w.Code, w.Header().Get(HeaderModel), w.Body)
		}
	}
	for _, d := range f.rec.all() {
		if d.CallerKey != "" || d.CallerTier != "" {
			t.Errorf("anonymous caller recorded as %q/%q", d.CallerKey, d.CallerTier)
		}
	}
}

// TestAuthBeforeRouting checks that an unauthenticated request learns
// nothing about the fleet: an unknown model is 401, not 404.
func TestAuthBeforeRouting(t *testing.T) {
	f := newFixture(t, authConfig, authEnv)
	w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("no-such-model", "hi", ""), nil)
	checkError(t, w, http.StatusUnauthorized)
}

// callerConfig routes to big only when something about the caller says
// so: the key's metadata, the request's metadata, the session header or an
// allowed request header.
const callerConfig = `
server:
  allowed_headers: [X-Tier]
models:
  - {name: small, provider: sim, options: {realtime: false, output_tokens: 5}}
  - {name: big, provider: sim, options: {realtime: false, output_tokens: 5}}
keys:
  - {name: alice, key_env: KEY_ALICE, tier: pro, metadata: {team: ml}}
  - {name: bob, key_env: KEY_BOB, tier: free}
routes:
  who:
    rules:
      rules:
        - {name: team, when: 'caller.metadata.?team.orValue("") == "ml"', route: big}
        - {name: session, when: 'caller.session == "s-42"', route: big}
        - {name: header, when: 'headers[?"x-tier"].orValue("") == "premium"', route: big}
        - {name: hidden, when: '"x-other" in headers', route: big}
      default: small
`

// TestCallerReachesRules checks that what the gateway knows about the
// caller reaches the policy tree, and that request headers do only when the
// config allows them.
func TestCallerReachesRules(t *testing.T) {
	alice := "Bearer " + authEnv["KEY_ALICE"]
	bob := "Bearer " + authEnv["KEY_BOB"]
	tests := []struct {
		name     string
		header   map[string]string
		metadata string
		want     string
	}{
		{"nothing", map[string]string{"Authorization": bob}, "", "small"},
		{"key metadata", map[string]string{"Authorization": alice}, "", "big"},
		{"request metadata", map[string]string{"Authorization": bob}, `"metadata":{"team":"ml"}`, "big"},
		{"key metadata wins over the request's", map[string]string{"Authorization": alice}, `"metadata":{"team":"web"}`, "big"},
		{"session", map[string]string{"Authorization": bob, HeaderSession: "s-42"}, "", "big"},
		{"allowed header", map[string]string{"Authorization": bob, "x-tier": "premium"}, "", "big"},
		{"header not allowed", map[string]string{"Authorization": bob, "X-Other": "1"}, "", "small"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, callerConfig, authEnv)
			w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("who", "hello", tt.metadata), tt.header)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got := w.Header().Get(HeaderModel); got != tt.want {
				t.Errorf("%s = %q, want %q", HeaderModel, got, tt.want)
			}
		})
	}
}

// TestAuthGuardsDecisionsAndFeedback: with keys configured, the decision
// log (which holds traces) and feedback need a valid key too.
func TestAuthGuardsDecisionsAndFeedback(t *testing.T) {
	f := newFixture(t, authConfig, authEnv)
	good := map[string]string{"Authorization": "Bearer sk-bob-9876543210"}
	for _, tt := range []struct {
		method, path, body string
		header             map[string]string
		status             int
	}{
		{http.MethodGet, "/v1/decisions/some-id", "", nil, 401},
		{http.MethodPost, "/v1/feedback", `{"request_id":"some-id","score":1}`, nil, 401},
		{http.MethodGet, "/v1/decisions/some-id", "", good, 404},
		{http.MethodPost, "/v1/feedback", `{"request_id":"some-id","score":1}`, good, 404},
	} {
		w := f.do(tt.method, tt.path, tt.body, tt.header)
		if w.Code != tt.status {
			t.Errorf("%s %s with %v: status %d, want %d; body %s", tt.method, tt.path, tt.header, w.Code, tt.status, w.Body)
		}
	}
}
