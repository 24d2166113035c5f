package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestChatErrors covers every way POST /v1/chat/completions refuses a
// request before or at routing: each answer must be an OpenAI error object
// with the right status, type, code and param, served as application/json
// with a request id.
func TestChatErrors(t *testing.T) {
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name        string
		body        string
		contentType string // "" sends application/json; "-" sends none
		status      int
		typ         string
		code        string // "<null>" for null
		param       string // "<null>" for null
	}{
		{"invalid JSON", `{"model":"small",`, "", 400, "invalid_request_error", "invalid_json", "<null>"},
		{"not JSON at all", `model=small`, "", 400, "invalid_request_error", "invalid_json", "<null>"},
		{"empty body", ``, "", 400, "invalid_request_error", "invalid_json", "<null>"},
		{"trailing data", `{"model":"small",` + msgs + `} {}`, "", 400, "invalid_request_error", "invalid_json", "<null>"},
		{"trailing garbage", `{"model":"small",` + msgs + `}x`, "", 400, "invalid_request_error", "invalid_json", "<null>"},
		{"duplicate top-level key", `{"model":"small","model":"big",` + msgs + `}`, "", 400, "invalid_request_error", "duplicate_key", "model"},
		{"duplicate nested key", `{"model":"small","messages":[{"role":"user","role":"system","content":"hi"}]}`, "", 400, "invalid_request_error", "duplicate_key", "messages[0].role"},
		{"array body", `[]`, "", 400, "invalid_request_error", "invalid_type", "<null>"},
		{"null body", `null`, "", 400, "invalid_request_error", "invalid_type", "<null>"},
		{"string body", `"hello"`, "", 400, "invalid_request_error", "invalid_type", "<null>"},
		{"number body", `42`, "", 400, "invalid_request_error", "invalid_type", "<null>"},
		{"missing model", `{` + msgs + `}`, "", 400, "invalid_request_error", "missing_required_parameter", "model"},
		{"missing messages", `{"model":"small"}`, "", 400, "invalid_request_error", "missing_required_parameter", "messages"},
		{"empty messages", `{"model":"small","messages":[]}`, "", 400, "invalid_request_error", "empty_array", "messages"},
		{"wrong content type", `{"model":"small","messages":[{"role":"user","content":5}]}`, "", 400, "invalid_request_error", "invalid_type", "messages[0].content"},
		{"temperature above 2", `{"model":"small",` + msgs + `,"temperature":2.5}`, "", 400, "invalid_request_error", "invalid_value", "temperature"},
		{"top_p below 0", `{"model":"small",` + msgs + `,"top_p":-0.1}`, "", 400, "invalid_request_error", "invalid_value", "top_p"},
		{"presence_penalty out of range", `{"model":"small",` + msgs + `,"presence_penalty":3}`, "", 400, "invalid_request_error", "invalid_value", "presence_penalty"},
		{"n zero", `{"model":"small",` + msgs + `,"n":0}`, "", 400, "invalid_request_error", "invalid_value", "n"},
		{"max_tokens zero", `{"model":"small",` + msgs + `,"max_tokens":0}`, "", 400, "invalid_request_error", "invalid_value", "max_tokens"},
		{"top_logprobs above 20", `{"model":"small",` + msgs + `,"logprobs":true,"top_logprobs":21}`, "", 400, "invalid_request_error", "invalid_value", "top_logprobs"},
		{"stream_options without stream", `{"model":"small",` + msgs + `,"stream_options":{"include_usage":true}}`, "", 400, "invalid_request_error", "invalid_parameter_combination", "stream_options"},
		{"unknown model", `{"model":"nope",` + msgs + `}`, "", 404, "not_found_error", "model_not_found", "model"},
		{"oversized body", `{"model":"small","messages":[{"role":"user","content":"` + strings.Repeat("a", 4096) + `"}]}`, "", 413, "invalid_request_error", "request_too_large", "<null>"},
		{"text/plain", `{"model":"small",` + msgs + `}`, "text/plain", 415, "invalid_request_error", "unsupported_media_type", "<null>"},
		{"form", `model=small`, "application/x-www-form-urlencoded", 415, "invalid_request_error", "unsupported_media_type", "<null>"},
	}
	f := newFixture(t, testConfig, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			switch tt.contentType {
			case "":
				h["Content-Type"] = "application/json"
			case "-":
				h["Content-Type"] = ""
			default:
				h["Content-Type"] = tt.contentType
			}
			w := f.do(http.MethodPost, "/v1/chat/completions", tt.body, h)
			e := checkError(t, w, tt.status)
			if e.Error.Type != tt.typ {
				t.Errorf("type = %q, want %q", e.Error.Type, tt.typ)
			}
			if got := str(e.Error.Code); got != tt.code {
				t.Errorf("code = %q, want %q", got, tt.code)
			}
			if got := str(e.Error.Param); got != tt.param {
				t.Errorf("param = %q, want %q (message %q)", got, tt.param, e.Error.Message)
			}
			if id := w.Header().Get("X-Request-Id"); !uuidRE.MatchString(id) {
				t.Errorf("X-Request-Id = %q, want a UUIDv7", id)
			}
			if w.Header().Get(HeaderModel) != "" {
				t.Errorf("%s = %q on an error", HeaderModel, w.Header().Get(HeaderModel))
			}
		})
	}
}

// TestContentTypes checks the content types a JSON body may come with.
func TestContentTypes(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	for _, ct := range []string{"-", "application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"} {
		t.Run(ct, func(t *testing.T) {
			h := map[string]string{"Content-Type": ct}
			if ct == "-" {
				h["Content-Type"] = ""
			}
			w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("small", "hi", ""), h)
			if w.Code != http.StatusOK {
				t.Errorf("status = %d, want 200; body %s", w.Code, w.Body)
			}
		})
	}
}

// TestBodyLimitIsExact checks that a body of exactly max_body_bytes is read
// and one byte more is refused with 413.
func TestBodyLimitIsExact(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	limit := int(f.eng.Snapshot().File.Server.MaxBodyBytes)
	pad := func(n int) string {
		base := chatBody("small", "", "")
		return strings.Replace(base, `"content":""`, `"content":"`+strings.Repeat("a", n-len(base))+`"`, 1)
	}
	if w := f.do(http.MethodPost, "/v1/chat/completions", pad(limit), nil); w.Code != http.StatusOK {
		t.Errorf("body of exactly %d bytes: status %d, body %s", limit, w.Code, w.Body)
	}
	w := f.do(http.MethodPost, "/v1/chat/completions", pad(limit+1), nil)
	e := checkError(t, w, http.StatusRequestEntityTooLarge)
	if !strings.Contains(e.Error.Message, "2048") {
		t.Errorf("413 message %q does not name the limit", e.Error.Message)
	}
}

// TestMethodNotAllowed checks 405 with an Allow header on every route.
func TestMethodNotAllowed(t *testing.T) {
	tests := []struct {
		method, path, allow string
	}{
		{http.MethodGet, "/v1/chat/completions", "POST"},
		{http.MethodPut, "/v1/chat/completions", "POST"},
		{http.MethodPost, "/v1/models", "GET"},
		{http.MethodDelete, "/v1/models/small", "GET"},
		{http.MethodPost, "/v1/decisions/abc", "GET"},
		{http.MethodGet, "/v1/feedback", "POST"},
		{http.MethodPost, "/healthz", "GET"},
		{http.MethodPatch, "/readyz", "GET"},
	}
	f := newFixture(t, testConfig, nil)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := f.do(tt.method, tt.path, "", nil)
			e := checkError(t, w, http.StatusMethodNotAllowed)
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if str(e.Error.Code) != "method_not_allowed" || e.Error.Type != "invalid_request_error" {
				t.Errorf("error = %+v", e.Error)
			}
		})
	}
}

// TestHeadOnGetRoutes checks that HEAD is served wherever GET is.
func TestHeadOnGetRoutes(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	for _, path := range []string{"/v1/models", "/v1/models/small", "/healthz", "/readyz"} {
		if w := f.do(http.MethodHead, path, "", nil); w.Code != http.StatusOK {
			t.Errorf("HEAD %s = %d, want 200", path, w.Code)
		}
	}
}

// TestUnknownPath checks 404 in the OpenAI shape for URLs nobody serves.
func TestUnknownPath(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/v1"},
		{http.MethodGet, "/v1/completions"},
		{http.MethodPost, "/v1/images/generations"},
		{http.MethodPost, "/v2/chat/completions"},
		{http.MethodGet, "/v1/decisions/"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := f.do(tt.method, tt.path, "", nil)
			e := checkError(t, w, http.StatusNotFound)
			if str(e.Error.Code) != "unknown_url" || e.Error.Type != "not_found_error" {
				t.Errorf("error = %+v", e.Error)
			}
			if !strings.Contains(e.Error.Message, tt.path) {
				t.Errorf("message %q does not name the path", e.Error.Message)
			}
		})
	}
}
