package e2e

import (
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// authConfig has two virtual keys read from the environment and a rule
// that routes by the caller's tier.
const authConfig = `
store: {path: decisions.db}
keys:
  - {name: alice, key_env: E2E_ALICE_KEY, tier: premium}
  - {name: bob, key_env: E2E_BOB_KEY}
models:
  - name: sim-premium
    provider: sim
    options: {seed: 1, realtime: false, reply: "premium: {{.Prompt}}"}
  - name: sim-basic
    provider: sim
    options: {seed: 2, realtime: false, reply: "basic: {{.Prompt}}"}
routes:
  auto:
    rules:
      rules:
        - name: premium
          when: 'caller.tier == "premium"'
          route: sim-premium
      default: sim-basic
`

// TestAuth checks virtual keys: requests without a valid key get 401 in
// the OpenAI shape, and a key's tier reaches the routing rules and the
// decision log.
func TestAuth(t *testing.T) {
	t.Parallel()
	p := startConfig(t, authConfig, "E2E_ALICE_KEY=alice-secret", "E2E_BOB_KEY=bob-secret")
	body := chatBody("auto", "who am I", false)

	t.Run("rejected", func(t *testing.T) {
		c := p.with(t)
		for _, header := range [][]string{
			nil,
			{"Authorization", "Bearer wrong"},
			{"Authorization", "Basic YWxpY2Utc2VjcmV0"},
			{"X-Api-Key", "wrong"},
		} {
			resp, b := c.postJSON("/v1/chat/completions", body, header...)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%q: status %d, want 401: %s", header, resp.StatusCode, b)
				continue
			}
			e := parseError(t, b)
			if e.Error.Type != "authentication_error" || deref(e.Error.Code) != "invalid_api_key" {
				t.Errorf("%q: error %s", header, b)
			}
		}
		_, err := c.sdk.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
			Model:    "auto",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("who am I")},
		})
		if apiErr := asAPIError(t, err); apiErr.StatusCode != http.StatusUnauthorized {
			t.Errorf("SDK with the wrong key: %d %s", apiErr.StatusCode, apiErr.RawJSON())
		}
	})

	tests := []struct {
		name, key, header, model, want, tier string
	}{
		{name: "premium key", key: "alice-secret", header: "Authorization", model: "sim-premium", want: "premium: who am I", tier: "premium"},
		{name: "basic key", key: "bob-secret", header: "Authorization", model: "sim-basic", want: "basic: who am I"},
		{name: "x-api-key", key: "alice-secret", header: "X-Api-Key", model: "sim-premium", want: "premium: who am I", tier: "premium"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.with(t)
			c.header = []string{"Authorization", "Bearer " + tt.key} // the decision log needs a key too
			var raw *http.Response
			opts := []option.RequestOption{option.WithResponseInto(&raw)}
			if tt.header == "Authorization" {
				opts = append(opts, option.WithAPIKey(tt.key))
			} else {
				opts = append(opts, option.WithHeaderDel("Authorization"), option.WithHeader(tt.header, tt.key))
			}
			cc, err := c.sdk.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
				Model:    "auto",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("who am I")},
			}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := cc.Choices[0].Message.Content; got != tt.want {
				t.Errorf("answer = %q, want %q", got, tt.want)
			}
			if got := raw.Header.Get("X-Sextant-Model"); got != tt.model {
				t.Errorf("x-sextant-model = %q, want %q", got, tt.model)
			}
			d := c.decision(raw.Header.Get("X-Request-Id"), nil)
			name := map[string]string{"alice-secret": "alice", "bob-secret": "bob"}[tt.key]
			if d.CallerKey != name || d.CallerTier != tt.tier {
				t.Errorf("decision caller = %q/%q, want %q/%q", d.CallerKey, d.CallerTier, name, tt.tier)
			}
		})
	}
}
