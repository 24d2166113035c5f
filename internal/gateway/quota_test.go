package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"

	"github.com/sextant-router/sextant/internal/state"
)

func TestKeyLimits(t *testing.T) {
	cs := state.NewMemoryCounters()
	old := counters
	counters = func() state.Counters { return cs }
	t.Cleanup(func() { counters = old })
	sum := sha256.Sum256([]byte("hashed-secret"))
	cfg := `
models:
  - {name: pricey, provider: sim, upstream: p, price: {input: 10000, output: 10000}, options: {realtime: false, output_tokens: 10}}
  - {name: cheap, provider: sim, upstream: c, options: {realtime: false, output_tokens: 10}}
routes:
  top: pricey
  economy: cheap
keys:
  - {name: rl, key_env: RL_KEY, limits: {requests_per_minute: 2}}
  - {name: tok, key_env: TOK_KEY, limits: {tokens_per_minute: 25}}
  - {name: budget, key_env: BUDGET_KEY, routes: [top, economy], limits: {daily_usd: 0.5, downgrade: economy, downgrade_at: 0.5}}
  - {name: hashed, key_sha256: ` + hex.EncodeToString(sum[:]) + `, tier: premium, routes: [economy]}
`
	f := newFixture(t, cfg, map[string]string{"RL_KEY": "k-rl", "TOK_KEY": "k-tok", "BUDGET_KEY": "k-budget"})
	auth := func(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} }
	post := func(key, model string) *http.Response {
		w := f.do(http.MethodPost, "/v1/chat/completions", chatBody(model, "hello there", ""), auth(key))
		return w.Result()
	}
	// Requests per minute: the third is refused with a Retry-After.
	for i, want := range []int{200, 200, 429} {
		r := post("k-rl", "cheap")
		if r.StatusCode != want {
			t.Fatalf("rl request %d: %d", i, r.StatusCode)
		}
		if want == 429 {
			if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
			}
		}
	}
	// Tokens per minute: ~20 tokens per request, the second would exceed 25.
	if r := post("k-tok", "cheap"); r.StatusCode != 200 {
		t.Fatalf("tok first: %d", r.StatusCode)
	}
	w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("cheap", "hello there", ""), auth("k-tok"))
	if e := checkError(t, w, 429); str(e.Error.Code) != "rate_limit_exceeded" || e.Error.Type != "rate_limit_error" {
		t.Errorf("tokens limit: %+v", e)
	}
	// Budget: one pricey answer costs about $0.2; past half the budget the
	// key is downgraded to economy, and at the budget refused.
	if r := post("k-budget", "top"); r.StatusCode != 200 || r.Header.Get(HeaderModel) != "pricey" {
		t.Fatalf("budget first: %d %s", r.StatusCode, r.Header.Get(HeaderModel))
	}
	spent, _ := cs.Get("usd:budget", state.Day)
	if spent < 100_000 {
		t.Fatalf("spend not accounted: %d micros", spent)
	}
	cs.Add("usd:budget", state.Day, 300_000-spent) // $0.30 of $0.50
	r := post("k-budget", "top")
	if r.StatusCode != 200 || r.Header.Get(HeaderModel) != "cheap" || r.Header.Get(HeaderDowngraded) != "economy" {
		t.Fatalf("no downgrade: %d model %s", r.StatusCode, r.Header.Get(HeaderModel))
	}
	cs.Add("usd:budget", state.Day, 300_000)
	w = f.do(http.MethodPost, "/v1/chat/completions", chatBody("top", "hi", ""), auth("k-budget"))
	if e := checkError(t, w, 429); str(e.Error.Code) != "budget_exceeded" || w.Header().Get("Retry-After") == "" {
		t.Errorf("budget: %+v", e)
	}
	// Allowed routes, and a key stored only as its hash.
	w = f.do(http.MethodPost, "/v1/chat/completions", chatBody("pricey", "hi", ""), auth("hashed-secret"))
	if e := checkError(t, w, 403); str(e.Error.Code) != "model_not_allowed" {
		t.Errorf("routes: %+v", e)
	}
	if r := post("hashed-secret", "economy"); r.StatusCode != 200 {
		t.Errorf("hashed key refused: %d", r.StatusCode)
	}
	if r := post("wrong", "economy"); r.StatusCode != 401 {
		t.Errorf("wrong key: %d", r.StatusCode)
	}
}
