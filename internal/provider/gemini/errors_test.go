package gemini

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/providertest"
	"github.com/sextant-router/sextant/internal/provider/upstream"
)

// errorBody renders a google.rpc.Status error response.
func rpcError(code int, status, message string, details ...string) string {
	d := ""
	if len(details) > 0 {
		d = `,"details":[` + strings.Join(details, ",") + `]`
	}
	return fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q%s}}`, code, message, status, d)
}

const (
	retryInfo30s  = `{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}`
	perMinute     = `{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.0-flash"},"quotaValue":"15"}]}`
	perDay        = `{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-pro"},"quotaValue":"50"}]}`
	helpLink      = `{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}`
	keyInvalid    = `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}`
	localized     = `{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"API key not valid. Please pass a valid API key."}`
	oddDetail     = `{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":"not a list"}`
	serviceDenied = `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","domain":"googleapis.com"}`
)

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		want    providertest.ErrSummary
	}{
		{
			name:   "400 invalid argument",
			status: 400,
			body:   rpcError(400, "INVALID_ARGUMENT", `Invalid JSON payload received. Unknown name "foo" at 'generation_config': Cannot find field.`),
			want: providertest.ErrSummary{Class: "caller", Status: 400, Type: llm.TypeInvalidRequest, Code: "invalid_argument",
				Message: `Invalid JSON payload received. Unknown name "foo" at 'generation_config': Cannot find field.`},
		},
		{
			name:   "400 API key not valid",
			status: 400,
			body:   rpcError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", keyInvalid, localized),
			want: providertest.ErrSummary{Class: "auth", Status: 400, Type: llm.TypeAuthentication, Code: "api_key_invalid",
				Message: "API key not valid. Please pass a valid API key."},
		},
		{
			name:   "400 failed precondition",
			status: 400,
			body:   rpcError(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
			want: providertest.ErrSummary{Class: "quota", Status: 400, Type: llm.TypeRateLimit, Code: "failed_precondition",
				Message: "User location is not supported for the API use."},
		},
		{
			name:   "401 unauthenticated",
			status: 401,
			body:   rpcError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
			want: providertest.ErrSummary{Class: "auth", Status: 401, Type: llm.TypeAuthentication, Code: "unauthenticated",
				Message: "Request had invalid authentication credentials."},
		},
		{
			name:   "403 permission denied",
			status: 403,
			body:   rpcError(403, "PERMISSION_DENIED", "Generative Language API has not been used in project 123 before or it is disabled.", serviceDenied),
			want: providertest.ErrSummary{Class: "auth", Status: 403, Type: llm.TypeAuthentication, Code: "service_disabled",
				Message: "Generative Language API has not been used in project 123 before or it is disabled."},
		},
		{
			name:   "404 model not found",
			status: 404,
			body:   rpcError(404, "NOT_FOUND", "models/gemini-test is not found for API version v1beta, or is not supported for generateContent."),
			want: providertest.ErrSummary{Class: "unsupported", Status: 404, Type: llm.TypeUpstream, Code: "not_found",
				Message: "models/gemini-test is not found for API version v1beta, or is not supported for generateContent."},
		},
		{
			name:   "429 with retryDelay",
			status: 429,
			body: rpcError(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.",
				perMinute, helpLink, retryInfo30s),
			want: providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: "resource_exhausted", RetryAfter: 30 * time.Second,
				Message: "You exceeded your current quota, please check your plan and billing details."},
		},
		{
			name:   "429 fractional retryDelay",
			status: 429,
			body:   rpcError(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", `{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.500s"}`),
			want: providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: "resource_exhausted", RetryAfter: 1500 * time.Millisecond,
				Message: "Resource has been exhausted (e.g. check quota)."},
		},
		{
			name:    "429 Retry-After wins over retryDelay",
			status:  429,
			headers: map[string]string{"Retry-After": "7"},
			body:    rpcError(429, "RESOURCE_EXHAUSTED", "slow down", retryInfo30s, oddDetail),
			want:    providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: "resource_exhausted", RetryAfter: 7 * time.Second, Message: "slow down"},
		},
		{
			name:    "429 Retry-After HTTP date",
			status:  429,
			headers: map[string]string{"Retry-After": fixedNow.Add(90 * time.Second).Format(http.TimeFormat)},
			body:    rpcError(429, "RESOURCE_EXHAUSTED", "slow down"),
			want:    providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: "resource_exhausted", RetryAfter: 90 * time.Second, Message: "slow down"},
		},
		{
			name:   "429 daily quota",
			status: 429,
			body: rpcError(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.",
				perDay, helpLink, `{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"52s"}`),
			want: providertest.ErrSummary{Class: "quota", Status: 429, Type: llm.TypeRateLimit, Code: "resource_exhausted", RetryAfter: 52 * time.Second,
				Message: "You exceeded your current quota, please check your plan and billing details."},
		},
		{
			name:   "500 internal",
			status: 500,
			body:   rpcError(500, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"),
			want: providertest.ErrSummary{Class: "transient", Status: 500, Type: llm.TypeUpstream, Code: "internal",
				Message: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"},
		},
		{
			name:   "503 unavailable",
			status: 503,
			body:   rpcError(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
			want: providertest.ErrSummary{Class: "transient", Status: 503, Type: llm.TypeUpstream, Code: "unavailable",
				Message: "The model is overloaded. Please try again later."},
		},
		{
			name:   "504 deadline exceeded",
			status: 504,
			body:   rpcError(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
			want: providertest.ErrSummary{Class: "transient", Status: 504, Type: llm.TypeUpstream, Code: "deadline_exceeded",
				Message: "Deadline expired before operation could complete."},
		},
		{
			name:   "error array",
			status: 400,
			body:   "[" + rpcError(400, "INVALID_ARGUMENT", "Bad request") + "]",
			want:   providertest.ErrSummary{Class: "caller", Status: 400, Type: llm.TypeInvalidRequest, Code: "invalid_argument", Message: "Bad request"},
		},
		{
			name:    "502 HTML page from a proxy",
			status:  502,
			headers: map[string]string{"Content-Type": "text/html"},
			body:    "<html><body><h1>502 Bad Gateway</h1></body></html>",
			want:    providertest.ErrSummary{Class: "transient", Status: 502, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "upstream returned 502 Bad Gateway"},
		},
		{
			name:   "500 plain text",
			status: 500,
			body:   "Internal Server Error\n",
			want:   providertest.ErrSummary{Class: "transient", Status: 500, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "Internal Server Error"},
		},
	}
	for _, tt := range tests {
		for _, streaming := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, streaming), func(t *testing.T) {
				f := newFake(t, tt.status, tt.headers, []byte(tt.body))
				p := newProvider(t, f.URL+"/v1beta", f.Client(), testKey, "")
				var err error
				if streaming {
					_, err = p.ChatStream(t.Context(), simpleRequest())
				} else {
					_, err = p.Chat(t.Context(), simpleRequest())
				}
				want := tt.want
				want.Model = "test-model"
				var le *llm.Error
				if !errors.As(err, &le) {
					t.Fatalf("err = %v (%T), want an *llm.Error", err, err)
				}
				if got := providertest.Summarize(err); got != want {
					t.Errorf("got  %+v\nwant %+v", got, want)
				}
				var ue *UpstreamError
				if !errors.As(err, &ue) || ue.Status != tt.status {
					t.Errorf("cause = %v, want an *UpstreamError with status %d", le.Cause, tt.status)
				}
			})
		}
	}
}

// The key never appears in an error, even when the upstream echoes it,
// and never in the URL.
func TestKeyNeverLeaks(t *testing.T) {
	for _, body := range []string{
		rpcError(400, "INVALID_ARGUMENT", "API key "+testKey+" not valid.", keyInvalid),
		"bad key: " + testKey,
	} {
		f := newFake(t, 400, nil, []byte(body))
		p := newProvider(t, f.URL+"/v1beta", f.Client(), testKey, "")
		_, err := p.Chat(t.Context(), simpleRequest())
		if err == nil {
			t.Fatal("no error")
		}
		var ue *UpstreamError
		errors.As(err, &ue)
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", ue), llm.AsError(err).Message} {
			if strings.Contains(s, testKey) {
				t.Errorf("the key leaked: %s", s)
			}
		}
		if got := f.Last(t); strings.Contains(got.Path+"?"+got.Query, testKey) {
			t.Error("the key is in the URL")
		}
	}
}

func TestTransportErrors(t *testing.T) {
	// A listener that is closed at once: the address refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newProvider(t, "http://"+addr+"/v1beta", &http.Client{}, "", "")

	_, err = p.Chat(t.Context(), simpleRequest())
	if e := llm.AsError(err); e.Class != llm.ClassTransient || e.Status != 502 || e.Code != CodeUpstreamUnreachable || e.Model != "test-model" {
		t.Errorf("refused: %+v", e)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = p.Chat(ctx, simpleRequest())
	if e := llm.AsError(err); e.Class != llm.ClassCanceled || e.Status != 499 || e.Code != CodeClientClosed {
		t.Errorf("canceled: %+v", e)
	}

	dctx, dcancel := context.WithDeadline(t.Context(), time.Unix(1, 0))
	defer dcancel()
	_, err = p.ChatStream(dctx, simpleRequest())
	if e := llm.AsError(err); e.Class != llm.ClassTransient || e.Status != 504 || e.Type != llm.TypeTimeout || e.Code != CodeUpstreamTimeout {
		t.Errorf("deadline: %+v", e)
	}
}

// A caller that goes away while the upstream is still thinking gets a 499
// canceled error, and the upstream request is aborted.
func TestChatCancel(t *testing.T) {
	arrived, done := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body.Close()
		close(arrived)
		<-r.Context().Done()
		close(done)
	}))
	defer srv.Close()
	p := newProvider(t, srv.URL+"/v1beta", srv.Client(), "", "")
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := p.Chat(ctx, simpleRequest())
	if e := llm.AsError(err); e.Class != llm.ClassCanceled || e.Status != 499 || e.Code != CodeClientClosed {
		t.Errorf("err = %+v, want canceled", e)
	}
	providertest.WaitDone(t, done)
}

// Errors sent in a stream or a 2xx body take their status from the code,
// else from the status name, else they are a transient 502.
func TestInbandErrorStatus(t *testing.T) {
	p := newProvider(t, "", nil, "", "")
	tests := []struct {
		eb     errorBody
		status int
		class  llm.Class
	}{
		{eb: errorBody{Code: 429, Status: "RESOURCE_EXHAUSTED"}, status: 429, class: llm.ClassRateLimit},
		{eb: errorBody{Status: "RESOURCE_EXHAUSTED"}, status: 429, class: llm.ClassRateLimit},
		{eb: errorBody{Status: "INVALID_ARGUMENT"}, status: 400, class: llm.ClassCaller},
		{eb: errorBody{Status: "PERMISSION_DENIED"}, status: 403, class: llm.ClassAuth},
		{eb: errorBody{Status: "INTERNAL"}, status: 500, class: llm.ClassTransient},
		{eb: errorBody{Status: "CANCELLED"}, status: 502, class: llm.ClassTransient},
		{eb: errorBody{Message: "boom"}, status: 502, class: llm.ClassTransient},
		{eb: errorBody{Code: 200, Status: "WHATEVER"}, status: 502, class: llm.ClassTransient},
	}
	for _, tt := range tests {
		e := p.inbandError(tt.eb)
		if e.Status != tt.status || e.Class != tt.class {
			t.Errorf("%+v: status %d class %v, want %d %v", tt.eb, e.Status, e.Class, tt.status, tt.class)
		}
	}
}

func TestParseDelay(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"30s", 30 * time.Second},
		{"0.000500s", 500 * time.Microsecond},
		{"1.5s", 1500 * time.Millisecond},
		{"", 0},
		{"30", 0},
		{"-3s", 0},
		{"NaNs", 0},
		{"999999999s", upstream.MaxRetryAfter},
	}
	for _, tt := range tests {
		if got := parseDelay(tt.in); got != tt.want {
			t.Errorf("parseDelay(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		v    string
		want time.Duration
	}{
		{name: "none", want: 0},
		{name: "seconds", v: "12", want: 12 * time.Second},
		{name: "fractional", v: "0.5", want: 500 * time.Millisecond},
		{name: "negative", v: "-1", want: 0},
		{name: "huge", v: "1e12", want: upstream.MaxRetryAfter},
		{name: "date", v: fixedNow.Add(time.Minute).Format(http.TimeFormat), want: time.Minute},
		{name: "past date", v: fixedNow.Add(-time.Minute).Format(http.TimeFormat), want: 0},
		{name: "junk", v: "soon", want: 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.v != "" {
			h.Set("Retry-After", tt.v)
		}
		if got := upstream.RetryAfter(h, fixedNow); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
