package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// errorsConfig has one quick model and a small body limit.
const errorsConfig = `
server: {max_body_bytes: 2048}
store: {path: decisions.db}
models:
  - name: sim
    provider: sim
    price: {input: 1, output: 1}
    options: {seed: 1, realtime: false}
routes:
  auto:
    fallback: [sim]
`

// TestErrors checks that every way a request can be wrong gets its status
// and an OpenAI-shaped error body naming the fault.
func TestErrors(t *testing.T) {
	t.Parallel()
	p := startConfig(t, errorsConfig)
	const msgs = `"messages":[{"role":"user","content":"hi"}]`

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
		typ         string
		param       string
		code        string
		allow       string
	}{
		{name: "unknown model", method: "POST", path: "/v1/chat/completions", body: `{"model":"gpt-5",` + msgs + `}`,
			status: 404, typ: "not_found_error", param: "model", code: "model_not_found"},
		{name: "invalid JSON", method: "POST", path: "/v1/chat/completions", body: `{"model":"auto",`,
			status: 400, typ: "invalid_request_error", code: "invalid_json"},
		{name: "empty body", method: "POST", path: "/v1/chat/completions", body: ``,
			status: 400, typ: "invalid_request_error", code: "invalid_json"},
		{name: "not an object", method: "POST", path: "/v1/chat/completions", body: `[1]`,
			status: 400, typ: "invalid_request_error"},
		{name: "duplicate key", method: "POST", path: "/v1/chat/completions", body: `{"model":"auto","model":"sim",` + msgs + `}`,
			status: 400, typ: "invalid_request_error", param: "model", code: "duplicate_key"},
		{name: "nested duplicate key", method: "POST", path: "/v1/chat/completions",
			body:   `{"model":"auto","messages":[{"role":"user","content":"hi","content":"ho"}]}`,
			status: 400, typ: "invalid_request_error", param: "messages[0].content", code: "duplicate_key"},
		{name: "empty messages", method: "POST", path: "/v1/chat/completions", body: `{"model":"auto","messages":[]}`,
			status: 400, typ: "invalid_request_error", param: "messages"},
		{name: "missing messages", method: "POST", path: "/v1/chat/completions", body: `{"model":"auto"}`,
			status: 400, typ: "invalid_request_error", param: "messages"},
		{name: "temperature out of range", method: "POST", path: "/v1/chat/completions", body: `{"model":"auto",` + msgs + `,"temperature":3}`,
			status: 400, typ: "invalid_request_error", param: "temperature"},
		{name: "body too large", method: "POST", path: "/v1/chat/completions",
			body:   `{"model":"auto","messages":[{"role":"user","content":"` + strings.Repeat("x", 4096) + `"}]}`,
			status: 413, typ: "invalid_request_error", code: "request_too_large"},
		{name: "wrong content type", method: "POST", path: "/v1/chat/completions", contentType: "text/plain", body: `{"model":"auto",` + msgs + `}`,
			status: 415, typ: "invalid_request_error", code: "unsupported_media_type"},
		{name: "wrong method", method: "GET", path: "/v1/chat/completions",
			status: 405, typ: "invalid_request_error", code: "method_not_allowed", allow: "POST"},
		{name: "wrong method on models", method: "DELETE", path: "/v1/models",
			status: 405, typ: "invalid_request_error", code: "method_not_allowed", allow: "GET"},
		{name: "unknown path", method: "GET", path: "/v1/nothing-here",
			status: 404, typ: "not_found_error", code: "unknown_url"},
		{name: "unknown model info", method: "GET", path: "/v1/models/gpt-5",
			status: 404, typ: "not_found_error", param: "model", code: "model_not_found"},
		{name: "feedback without id", method: "POST", path: "/v1/feedback", body: `{"score":1}`,
			status: 400, typ: "invalid_request_error", param: "request_id"},
		{name: "feedback with nothing to say", method: "POST", path: "/v1/feedback", body: `{"request_id":"x"}`,
			status: 400, typ: "invalid_request_error", param: "score"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.with(t)
			ct := tt.contentType
			if ct == "" && tt.method == http.MethodPost {
				ct = "application/json"
			}
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			resp, b := c.do(tt.method, tt.path, ct, body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("an error response without x-request-id")
			}
			if tt.allow != "" && resp.Header.Get("Allow") != tt.allow {
				t.Errorf("Allow = %q, want %q", resp.Header.Get("Allow"), tt.allow)
			}
			e := parseError(t, b)
			if e.Error.Type != tt.typ {
				t.Errorf("type = %q, want %q", e.Error.Type, tt.typ)
			}
			if got := deref(e.Error.Param); got != tt.param {
				t.Errorf("param = %q, want %q", got, tt.param)
			}
			if tt.code != "" && deref(e.Error.Code) != tt.code {
				t.Errorf("code = %q, want %q", deref(e.Error.Code), tt.code)
			}
		})
	}

	// The official SDK reads the same errors into *openai.Error.
	t.Run("sdk", func(t *testing.T) {
		c := p.with(t)
		var raw *http.Response
		_, err := c.sdk.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
			Model:    "gpt-5",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}, option.WithResponseInto(&raw))
		apiErr := asAPIError(t, err)
		if apiErr.StatusCode != http.StatusNotFound || apiErr.Type != "not_found_error" || apiErr.Code != "model_not_found" ||
			apiErr.Param != "model" || !strings.Contains(apiErr.Message, "gpt-5") {
			t.Errorf("unknown model: %d %s", apiErr.StatusCode, apiErr.RawJSON())
		}
		if raw == nil || raw.Header.Get("X-Sextant-Route") != "gpt-5" || raw.Header.Get("X-Request-Id") == "" {
			t.Errorf("unknown model: response headers %v", raw.Header)
		}

		_, err = c.sdk.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
			Model:       "auto",
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			Temperature: openai.Float(3),
		})
		apiErr = asAPIError(t, err)
		if apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != "temperature" || apiErr.Type != "invalid_request_error" {
			t.Errorf("temperature 3: %d %s", apiErr.StatusCode, apiErr.RawJSON())
		}

		st := c.sdk.Chat.Completions.NewStreaming(ctx(t), openai.ChatCompletionNewParams{
			Model:    "gpt-5",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		for st.Next() {
			t.Errorf("a stream for an unknown model sent %s", st.Current().RawJSON())
		}
		if apiErr := asAPIError(t, st.Err()); apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "model_not_found" {
			t.Errorf("streaming unknown model: %d %s", apiErr.StatusCode, apiErr.RawJSON())
		}
		st.Close()
	})
}
