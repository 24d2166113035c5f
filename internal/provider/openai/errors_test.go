package openai

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

func TestStatusErrors(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		want    providertest.ErrSummary
	}{
		{
			name:   "401 invalid key echoes the key",
			status: 401,
			body: `{"error":{"message":"Incorrect API key provided: ` + testKey + `. You can find your API key at https://platform.openai.com/account/api-keys.",` +
				`"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			want: providertest.ErrSummary{Class: "auth", Status: 401, Type: llm.TypeAuthentication, Code: "invalid_api_key",
				Message: "Incorrect API key provided: <secret>. You can find your API key at https://platform.openai.com/account/api-keys."},
		},
		{
			name:    "429 rate limit with Retry-After seconds",
			status:  429,
			headers: map[string]string{"Retry-After": "7"},
			body: `{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 30000, Requested 500.",` +
				`"type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
			want: providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: 7 * time.Second,
				Message: "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 30000, Requested 500."},
		},
		{
			name:    "429 retry-after-ms wins over Retry-After",
			status:  429,
			headers: map[string]string{"Retry-After": "2", "retry-after-ms": "1500"},
			body:    `{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}`,
			want:    providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: 1500 * time.Millisecond, Message: "slow down"},
		},
		{
			name:    "429 Retry-After HTTP date",
			status:  429,
			headers: map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)},
			body:    `{"error":{"message":"slow down"}}`,
			want:    providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: CodeUpstreamError, RetryAfter: 90 * time.Second, Message: "slow down"},
		},
		{
			name:    "429 Retry-After date in the past",
			status:  429,
			headers: map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)},
			body:    `{"error":{"message":"slow down"}}`,
			want:    providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: CodeUpstreamError, Message: "slow down"},
		},
		{
			name:    "429 insufficient_quota",
			status:  429,
			headers: map[string]string{"Retry-After": "20"},
			body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",` +
				`"type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
			want: providertest.ErrSummary{Class: "quota", Status: 429, Type: llm.TypeRateLimit, Code: "insufficient_quota", RetryAfter: 20 * time.Second,
				Message: "You exceeded your current quota, please check your plan and billing details."},
		},
		{
			name:   "400 context_length_exceeded",
			status: 400,
			body: `{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",` +
				`"type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			want: providertest.ErrSummary{Class: "caller", Status: 400, Type: llm.TypeInvalidRequest, Code: "context_length_exceeded", Param: "messages",
				Message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens."},
		},
		{
			name:   "500 server_error",
			status: 500,
			body:   `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`,
			want: providertest.ErrSummary{Class: "transient", Status: 500, Type: llm.TypeUpstream, Code: CodeUpstreamError,
				Message: "The server had an error while processing your request. Sorry about that!"},
		},
		{
			name:   "500 plain text",
			status: 500,
			body:   "Internal Server Error\n",
			want:   providertest.ErrSummary{Class: "transient", Status: 500, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "Internal Server Error"},
		},
		{
			name:    "503 HTML page from a proxy",
			status:  503,
			headers: map[string]string{"Content-Type": "text/html", "Retry-After": "30"},
			body:    "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
			want: providertest.ErrSummary{Class: "transient", Status: 503, Type: llm.TypeUpstream, Code: CodeUpstreamError, RetryAfter: 30 * time.Second,
				Message: "upstream returned 503 Service Unavailable"},
		},
		{
			name:   "503 empty body",
			status: 503,
			want:   providertest.ErrSummary{Class: "transient", Status: 503, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "upstream returned 503 Service Unavailable"},
		},
		{
			name:   "529 overloaded",
			status: 529,
			body:   `{"error":{"message":"Overloaded","type":"overloaded_error"}}`,
			want:   providertest.ErrSummary{Class: "transient", Status: 529, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "Overloaded"},
		},
		{
			name:   "404 vLLM bare error object",
			status: 404,
			body:   `{"object":"error","message":"The model ` + "`gpt-test`" + ` does not exist.","type":"NotFoundError","param":null,"code":404}`,
			want:   providertest.ErrSummary{Class: "unsupported", Status: 404, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "The model `gpt-test` does not exist."},
		},
		{
			name:   "422 FastAPI detail",
			status: 422,
			body:   `{"detail":[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]}`,
			want: providertest.ErrSummary{Class: "caller", Status: 422, Type: llm.TypeInvalidRequest, Code: CodeUpstreamError,
				Message: `[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]`},
		},
		{
			name:   "400 error as a string",
			status: 400,
			body:   `{"error":"model 'llama3' not found, try pulling it first"}`,
			want:   providertest.ErrSummary{Class: "caller", Status: 400, Type: llm.TypeInvalidRequest, Code: CodeUpstreamError, Message: "model 'llama3' not found, try pulling it first"},
		},
		{
			name:   "403 forbidden",
			status: 403,
			body:   `{"error":{"message":"Project does not have access to model gpt-test","type":"invalid_request_error","code":"model_not_found"}}`,
			want:   providertest.ErrSummary{Class: "auth", Status: 403, Type: llm.TypeAuthentication, Code: "model_not_found", Message: "Project does not have access to model gpt-test"},
		},
	}
	for _, tt := range tests {
		for _, streaming := range []bool{false, true} {
			name := tt.name
			if streaming {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				f := providertest.NewFake(t, tt.status, tt.headers, []byte(tt.body))
				p := newProvider(t, f.URL+"/v1", f.Client(), testKey, "")
				p.now = func() time.Time { return now }
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
				if !errors.As(err, &ue) || ue.Status != tt.status {
					t.Errorf("cause = %#v, want an *UpstreamError with status %d", le.Cause, tt.status)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Errorf("error text holds the API key: %v", err)
				}
			})
		}
	}
}

func TestTransportErrors(t *testing.T) {
	// An address nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := "http://" + ln.Addr().String() + "/v1"
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
			base: srv.URL + "/v1",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx, cancel
			},
			want: providertest.ErrSummary{Class: "canceled", Status: 499, Type: llm.TypeInvalidRequest, Code: CodeClientClosed, Message: "the client closed the request"},
		},
		{
			name: "deadline passed",
			base: srv.URL + "/v1",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(t.Context(), time.Unix(0, 0))
			},
			want: providertest.ErrSummary{Class: "transient", Status: 504, Type: llm.TypeTimeout, Code: CodeUpstreamTimeout, Message: "the model did not answer in time"},
		},
		{
			name:   "canceled while waiting for headers",
			base:   blockSrv.URL + "/v1",
			during: func(cancel context.CancelFunc) { <-blocked; cancel() },
			want:   providertest.ErrSummary{Class: "canceled", Status: 499, Type: llm.TypeInvalidRequest, Code: CodeClientClosed, Message: "the client closed the request"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			if tt.during != nil {
				go tt.during(cancel)
			}
			p := newProvider(t, tt.base, srv.Client(), testKey, "")
			_, err := p.Chat(ctx, simpleRequest())
			tt.want.Model = "test-model"
			if got := providertest.Summarize(err); got != tt.want {
				t.Errorf("error:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestChatMalformedResponse(t *testing.T) {
	for _, body := range []string{"", "not json", `{"choices": "nope"}`} {
		f := providertest.NewFake(t, 200, map[string]string{"Content-Type": "application/json"}, []byte(body))
		p := newProvider(t, f.URL+"/v1", f.Client(), "", "")
		_, err := p.Chat(t.Context(), simpleRequest())
		if e := llm.AsError(err); e.Class != llm.ClassTransient || e.Code != CodeBadResponse || e.Status != 502 {
			t.Errorf("body %q: err = %+v, want a transient bad_upstream_response", body, e)
		}
	}
}

// A 200 whose body is an error object (as OpenRouter sends) is an error.
func TestChatErrorIn200(t *testing.T) {
	f := providertest.NewFake(t, 200, nil, []byte(`{"error":{"message":"No endpoints found","code":404}}`))
	p := newProvider(t, f.URL+"/v1", f.Client(), "", "")
	_, err := p.Chat(t.Context(), simpleRequest())
	if e := llm.AsError(err); e.Class != llm.ClassUnsupported || e.Status != 404 || e.Message != "No endpoints found" {
		t.Errorf("err = %+v, want a 404 unsupported error", e)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{name: "none", want: 0},
		{name: "seconds", headers: map[string]string{"Retry-After": "12"}, want: 12 * time.Second},
		{name: "fractional seconds", headers: map[string]string{"Retry-After": "0.5"}, want: 500 * time.Millisecond},
		{name: "milliseconds", headers: map[string]string{"Retry-After-Ms": "250"}, want: 250 * time.Millisecond},
		{name: "bad ms falls back", headers: map[string]string{"Retry-After-Ms": "soon", "Retry-After": "3"}, want: 3 * time.Second},
		{name: "negative", headers: map[string]string{"Retry-After": "-5"}, want: 0},
		{name: "garbage", headers: map[string]string{"Retry-After": "tomorrow"}, want: 0},
		{name: "huge capped", headers: map[string]string{"Retry-After": "1e300"}, want: upstream.MaxRetryAfter},
		{name: "date", headers: map[string]string{"Retry-After": "Sat, 01 Mar 2025 12:00:45 GMT"}, want: 45 * time.Second},
		{name: "RFC 850 date", headers: map[string]string{"Retry-After": "Saturday, 01-Mar-25 12:01:00 GMT"}, want: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			if got := retryAfter(h, now); got != tt.want {
				t.Errorf("retryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}
