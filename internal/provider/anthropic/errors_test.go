package anthropic

import (
	"context"
	"errors"
	"io"
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

// anthropicError is an error body as the Messages API sends it.
func anthropicError(typ, msg string) string {
	return `{"type":"error","error":{"type":"` + typ + `","message":"` + msg + `"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		want    providertest.ErrSummary
	}{
		{
			name:   "400 invalid_request_error",
			status: 400,
			body:   anthropicError("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
			want: providertest.ErrSummary{Class: "caller", Status: 400, Type: llm.TypeInvalidRequest, Code: "invalid_request_error",
				Message: "prompt is too long: 210000 tokens > 200000 maximum"},
		},
		{
			name:   "401 authentication_error echoes the key",
			status: 401,
			body:   anthropicError("authentication_error", "invalid x-api-key: "+testKey),
			want: providertest.ErrSummary{Class: "auth", Status: 401, Type: llm.TypeAuthentication, Code: "authentication_error",
				Message: "invalid x-api-key: <secret>"},
		},
		{
			name:   "402 billing_error",
			status: 402,
			body:   anthropicError("billing_error", "Your credit balance is too low to access the Anthropic API."),
			want: providertest.ErrSummary{Class: "quota", Status: 402, Type: llm.TypeRateLimit, Code: "billing_error",
				Message: "Your credit balance is too low to access the Anthropic API."},
		},
		{
			name:   "400 billing_error",
			status: 400,
			body:   anthropicError("billing_error", "Your credit balance is too low."),
			want:   providertest.ErrSummary{Class: "quota", Status: 400, Type: llm.TypeRateLimit, Code: "billing_error", Message: "Your credit balance is too low."},
		},
		{
			name:   "403 permission_error",
			status: 403,
			body:   anthropicError("permission_error", "Your API key does not have permission to use the specified resource."),
			want: providertest.ErrSummary{Class: "auth", Status: 403, Type: llm.TypeAuthentication, Code: "permission_error",
				Message: "Your API key does not have permission to use the specified resource."},
		},
		{
			name:   "404 not_found_error",
			status: 404,
			body:   anthropicError("not_found_error", "model: claude-test"),
			want:   providertest.ErrSummary{Class: "unsupported", Status: 404, Type: llm.TypeUpstream, Code: "not_found_error", Message: "model: claude-test"},
		},
		{
			name:   "413 request_too_large",
			status: 413,
			body:   anthropicError("request_too_large", "Request exceeds the maximum allowed number of bytes."),
			want: providertest.ErrSummary{Class: "caller", Status: 413, Type: llm.TypeInvalidRequest, Code: "request_too_large",
				Message: "Request exceeds the maximum allowed number of bytes."},
		},
		{
			name:    "429 rate_limit_error with retry-after",
			status:  429,
			headers: map[string]string{"Retry-After": "17"},
			body:    anthropicError("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
			want: providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: "rate_limit_error", RetryAfter: 17 * time.Second,
				Message: "Number of request tokens has exceeded your per-minute rate limit"},
		},
		{
			name:   "429 monthly spend cap",
			status: 429,
			body: `{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your API usage limits.",` +
				`"details":{"error_code":"enforced_spend_limit_reached"}},"request_id":"req_1"}`,
			want: providertest.ErrSummary{Class: "quota", Status: 429, Type: llm.TypeRateLimit, Code: "rate_limit_error", Message: "You have reached your API usage limits."},
		},
		{
			name:   "500 api_error",
			status: 500,
			body:   anthropicError("api_error", "Internal server error"),
			want:   providertest.ErrSummary{Class: "transient", Status: 500, Type: llm.TypeUpstream, Code: "api_error", Message: "Internal server error"},
		},
		{
			name:    "529 overloaded_error",
			status:  529,
			headers: map[string]string{"Retry-After": "2"},
			body:    anthropicError("overloaded_error", "Overloaded"),
			want: providertest.ErrSummary{Class: "transient", Status: 529, Type: llm.TypeUpstream, Code: "overloaded_error", RetryAfter: 2 * time.Second,
				Message: "Overloaded"},
		},
		{
			name:   "529 empty body",
			status: 529,
			want:   providertest.ErrSummary{Class: "transient", Status: 529, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "upstream returned 529 Overloaded"},
		},
		{
			name:    "503 HTML page from a proxy",
			status:  503,
			headers: map[string]string{"Content-Type": "text/html", "Retry-After": "Sat, 01 Mar 2025 12:00:30 GMT"},
			body:    "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
			want: providertest.ErrSummary{Class: "transient", Status: 503, Type: llm.TypeUpstream, Code: CodeUpstreamError, RetryAfter: 30 * time.Second,
				Message: "upstream returned 503 Service Unavailable"},
		},
		{
			name:   "502 plain text",
			status: 502,
			body:   "upstream connect error\n",
			want:   providertest.ErrSummary{Class: "transient", Status: 502, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "upstream connect error"},
		},
		{
			name:   "400 OpenAI-shaped body from a proxy",
			status: 400,
			body:   `{"error":{"message":"max_tokens: field required","type":"invalid_request_error"}}`,
			want:   providertest.ErrSummary{Class: "caller", Status: 400, Type: llm.TypeInvalidRequest, Code: "invalid_request_error", Message: "max_tokens: field required"},
		},
	}
	for _, tt := range tests {
		for _, streaming := range []bool{false, true} {
			name := tt.name
			if streaming {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				f := newFake(t, tt.status, tt.headers, []byte(tt.body))
				p := newProvider(t, f.URL, f.Client(), testKey, "")
				var err error
				if streaming {
					var s llm.Stream
					if s, err = p.ChatStream(t.Context(), simpleRequest()); s != nil {
						s.Close()
						t.Fatal("ChatStream returned a stream for an error status")
					}
				} else {
					var resp *llm.Response
					if resp, err = p.Chat(t.Context(), simpleRequest()); resp != nil {
						t.Fatal("Chat returned a response for an error status")
					}
				}
				var le *llm.Error
				if !errors.As(err, &le) {
					t.Fatalf("err %T is not an *llm.Error: %v", err, err)
				}
				tt.want.Model = "test-model"
				if got := providertest.Summarize(err); got != tt.want {
					t.Errorf("error:\n got %+v\nwant %+v", got, tt.want)
				}
				var ue *UpstreamError
				if !errors.As(err, &ue) || ue.Status != tt.status || ue.RequestID == "" {
					t.Errorf("cause = %#v, want an *UpstreamError with status %d and a request id", le.Cause, tt.status)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Errorf("error text holds the API key: %v", err)
				}
			})
		}
	}
}

// An error event carries no status: the status its type documents stands
// in, and the class follows.
func TestInbandErrorTypes(t *testing.T) {
	p := newProvider(t, "", nil, "", "")
	tests := []struct {
		typ    string
		status int
		class  llm.Class
	}{
		{"invalid_request_error", 400, llm.ClassCaller},
		{"authentication_error", 401, llm.ClassAuth},
		{"billing_error", 402, llm.ClassQuota},
		{"permission_error", 403, llm.ClassAuth},
		{"not_found_error", 404, llm.ClassUnsupported},
		{"request_too_large", 413, llm.ClassCaller},
		{"rate_limit_error", 429, llm.ClassRateLimit},
		{"api_error", 500, llm.ClassTransient},
		{"timeout_error", 504, llm.ClassTransient},
		{"overloaded_error", 529, llm.ClassTransient},
		{"something_new_error", 502, llm.ClassTransient},
		{"", 502, llm.ClassTransient},
	}
	for _, tt := range tests {
		e := p.inbandError(errorBody{Type: tt.typ, Message: "m"}, "")
		if e.Status != tt.status || e.Class != tt.class {
			t.Errorf("%q: status %d class %v, want %d %v", tt.typ, e.Status, e.Class, tt.status, tt.class)
		}
	}
}

func TestTransportErrors(t *testing.T) {
	// An address nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := "http://" + ln.Addr().String()
	ln.Close()

	srv, _ := hanging(t)
	blocked := make(chan struct{})
	blockSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed client only after the body
		close(blocked)
		<-r.Context().Done()
	}))
	t.Cleanup(blockSrv.Close)

	tests := []struct {
		name string
		base string
		ctx  func() (context.Context, context.CancelFunc)
		// during runs while the call is in flight, once the fake has it.
		during func(cancel context.CancelFunc)
		want   providertest.ErrSummary
	}{
		{
			name: "connection refused",
			base: closedAddr,
			want: providertest.ErrSummary{Class: "transient", Status: 502, Type: llm.TypeUpstream, Code: CodeUpstreamUnreachable, Message: "could not reach the model's provider"},
		},
		{
			name: "canceled before the call",
			base: srv.URL,
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx, cancel
			},
			want: providertest.ErrSummary{Class: "canceled", Status: 499, Type: llm.TypeInvalidRequest, Code: CodeClientClosed, Message: "the client closed the request"},
		},
		{
			name: "deadline passed",
			base: srv.URL,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(t.Context(), time.Unix(0, 0))
			},
			want: providertest.ErrSummary{Class: "transient", Status: 504, Type: llm.TypeTimeout, Code: CodeUpstreamTimeout, Message: "the model did not answer in time"},
		},
		{
			name:   "canceled while waiting for headers",
			base:   blockSrv.URL,
			during: func(cancel context.CancelFunc) { <-blocked; cancel() },
			want:   providertest.ErrSummary{Class: "canceled", Status: 499, Type: llm.TypeInvalidRequest, Code: CodeClientClosed, Message: "the client closed the request"},
		},
	}
	for _, tt := range tests {
		for _, streaming := range []bool{false, true} {
			name := tt.name
			if streaming {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				if tt.ctx != nil {
					ctx, cancel = tt.ctx()
				}
				defer cancel()
				if tt.during != nil {
					if streaming {
						// Each subtest needs the fake to block afresh.
						t.Skip("covered by the non-streaming run")
					}
					go tt.during(cancel)
				}
				p := newProvider(t, tt.base, srv.Client(), testKey, "")
				var err error
				if streaming {
					var s llm.Stream
					if s, err = p.ChatStream(ctx, simpleRequest()); s != nil {
						s.Close()
						t.Fatal("ChatStream returned a stream")
					}
				} else {
					_, err = p.Chat(ctx, simpleRequest())
				}
				tt.want.Model = "test-model"
				if got := providertest.Summarize(err); got != tt.want {
					t.Errorf("error:\n got %+v\nwant %+v", got, tt.want)
				}
			})
		}
	}
}

func TestChatMalformedResponse(t *testing.T) {
	for _, body := range []string{"", "not json", `{}`, `{"type":"message","content":"nope"}`, `[1,2]`} {
		f := newFake(t, 200, map[string]string{"Content-Type": "application/json"}, []byte(body))
		p := newProvider(t, f.URL, f.Client(), "", "")
		_, err := p.Chat(t.Context(), simpleRequest())
		if e := llm.AsError(err); e.Class != llm.ClassTransient || e.Code != CodeBadResponse || e.Status != 502 {
			t.Errorf("body %q: err = %+v, want a transient bad_upstream_response", body, e)
		}
	}
}

// A 200 whose body is an error object (as some proxies send) is an error.
func TestChatErrorIn200(t *testing.T) {
	f := newFake(t, 200, nil, []byte(anthropicError("overloaded_error", "Overloaded")))
	p := newProvider(t, f.URL, f.Client(), "", "")
	_, err := p.Chat(t.Context(), simpleRequest())
	if e := llm.AsError(err); e.Class != llm.ClassTransient || e.Status != 529 || e.Message != "Overloaded" {
		t.Errorf("err = %+v, want a 529 transient error", e)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{name: "none", want: 0},
		{name: "seconds", header: "12", want: 12 * time.Second},
		{name: "fractional seconds", header: "0.5", want: 500 * time.Millisecond},
		{name: "negative", header: "-5", want: 0},
		{name: "garbage", header: "tomorrow", want: 0},
		{name: "huge capped", header: "1e300", want: upstream.MaxRetryAfter},
		{name: "date", header: "Sat, 01 Mar 2025 12:00:45 GMT", want: 45 * time.Second},
		{name: "date in the past", header: "Sat, 01 Mar 2025 11:00:00 GMT", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Retry-After", tt.header)
			}
			if got := upstream.RetryAfter(h, testNow); got != tt.want {
				t.Errorf("retryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}
