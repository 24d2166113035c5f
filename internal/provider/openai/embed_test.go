package openai

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/provider/providertest"
)

// embedCases are the embeddings translation cases: the normalized request
// and the options of the deployment. Each has testdata/embed/<case>.resp.json
// (what the fake answers), .req.json (the request it must receive) and
// .want.json (the translated response).
var embedCases = []struct {
	name    string
	options string
	req     *llm.EmbedRequest
}{
	{
		// The data list comes out of order: vectors are placed by index.
		name: "plain",
		req: &llm.EmbedRequest{
			Model: "test-model",
			Input: []string{
				"The food was delicious and the waiter was friendly.",
				"Routing picks the cheapest model that can answer.",
				"",
			},
			User: "user-1234",
		},
	},
	{
		name:    "dimensions",
		options: `{"organization": "org-1"}`,
		req:     &llm.EmbedRequest{Input: []string{"Short vectors, please."}, Dimensions: 4},
	},
	{
		// A server that answers in base64 although float was asked for.
		name: "base64",
		req:  &llm.EmbedRequest{Input: []string{"one", "two"}},
	},
	{
		// No index and no usage: vectors are taken in list order, usage is
		// zero (not reported).
		name: "no_index",
		req:  &llm.EmbedRequest{Input: []string{"first", "second"}},
	},
}

func TestEmbed(t *testing.T) {
	for _, tt := range embedCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := "testdata/embed/" + tt.name
			f := providertest.NewFake(t, 200, nil, providertest.ReadFile(t, dir+".resp.json"))
			p := newProvider(t, f.URL+"/v1", f.Client(), testKey, tt.options)
			orig := mustJSON(t, tt.req)
			resp, err := p.Embed(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			checkEmbedRequest(t, f.Last(t), dir+".req.json", testKey)
			out, _ := json.Marshal(resp)
			providertest.CheckGolden(t, dir+".want.json", out)
			if len(resp.Vectors) != len(tt.req.Input) {
				t.Errorf("%d vectors for %d inputs", len(resp.Vectors), len(tt.req.Input))
			}
			if got := mustJSON(t, tt.req); got != orig {
				t.Errorf("Embed changed its request:\n%s\n%s", orig, got)
			}
		})
	}
}

// checkEmbedRequest verifies what a fake received for an embeddings call.
func checkEmbedRequest(t *testing.T, got providertest.Recorded, golden, key string) {
	t.Helper()
	if got.Method != http.MethodPost || got.Path != "/v1/embeddings" {
		t.Errorf("request %s %s, want POST /v1/embeddings", got.Method, got.Path)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if a := got.Header.Get("Accept"); a != "application/json" {
		t.Errorf("Accept = %q", a)
	}
	if a := got.Header.Get("Authorization"); a != "Bearer "+key {
		t.Errorf("Authorization = %q", a)
	}
	providertest.CheckGolden(t, golden, got.Body)
}

// The upstream name wins over the request's model; without one the
// request's model is sent.
func TestEmbedModelName(t *testing.T) {
	f := providertest.NewFake(t, 200, nil, providertest.ReadFile(t, "testdata/embed/dimensions.resp.json"))
	p, err := New(provider.Config{Model: "m", BaseURL: f.URL + "/v1", HTTPClient: f.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.(*Provider).Embed(t.Context(), &llm.EmbedRequest{Model: "asked-for", Input: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	var body struct{ Model string }
	if err := json.Unmarshal(f.Last(t).Body, &body); err != nil || body.Model != "asked-for" {
		t.Errorf("model = %q (%v), want the request's", body.Model, err)
	}
}

func TestEmbedEndpoint(t *testing.T) {
	tests := []struct{ base, want string }{
		{"", "https://api.openai.com/v1/embeddings"},
		{"http://localhost:11434/v1/", "http://localhost:11434/v1/embeddings"},
		{"https://openrouter.example/api/v1", "https://openrouter.example/api/v1/embeddings"},
	}
	for _, tt := range tests {
		p, err := New(provider.Config{BaseURL: tt.base, HTTPClient: http.DefaultClient})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.(*Provider).embedEndpoint(); got != tt.want {
			t.Errorf("base %q: endpoint %q, want %q", tt.base, got, tt.want)
		}
	}
}

// An empty input list is refused before any request is sent.
func TestEmbedNoInput(t *testing.T) {
	p := newProvider(t, "http://127.0.0.1:1/v1", nil, "", "")
	_, err := p.Embed(t.Context(), &llm.EmbedRequest{})
	if e := llm.AsError(err); e.Class != llm.ClassCaller || e.Status != 400 || e.Param != "input" || e.Model != "test-model" {
		t.Errorf("err = %+v, want a caller fault at input", e)
	}
}

// le32 is the base64 of vs as little-endian float32 values.
func le32(vs ...float32) string {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Every answer that does not hold exactly one well-formed vector per input
// is a transient bad_upstream_response. The request has two inputs.
func TestEmbedMalformedResponse(t *testing.T) {
	item := func(index string, emb string) string {
		if index == "" {
			return `{"object":"embedding","embedding":` + emb + `}`
		}
		return `{"object":"embedding","index":` + index + `,"embedding":` + emb + `}`
	}
	list := func(items ...string) string {
		return `{"object":"list","data":[` + strings.Join(items, ",") + `],"model":"m"}`
	}
	tests := []struct{ name, body string }{
		{"empty body", ""},
		{"not JSON", "not json"},
		{"data not a list", `{"data": "nope"}`},
		{"no data", `{"object":"list","model":"m"}`},
		{"too few", list(item("0", "[1,2]"))},
		{"too many", list(item("0", "[1,2]"), item("1", "[1,2]"), item("2", "[1,2]"))},
		{"duplicate index", list(item("0", "[1,2]"), item("0", "[3,4]"))},
		{"index out of range", list(item("0", "[1,2]"), item("2", "[3,4]"))},
		{"negative index", list(item("-1", "[1,2]"), item("0", "[3,4]"))},
		{"index not a number", list(item(`"0"`, "[1,2]"), item("1", "[3,4]"))},
		{"some indexes missing", list(item("1", "[1,2]"), item("", "[3,4]"))},
		{"empty vector", list(item("0", "[]"), item("1", "[3,4]"))},
		{"null vector", list(item("0", "null"), item("1", "[3,4]"))},
		{"ragged vectors", list(item("0", "[1,2]"), item("1", "[3,4,5]"))},
		{"vector not numbers", list(item("0", `["a","b"]`), item("1", "[3,4]"))},
		{"float32 overflow", list(item("0", "[1e39,2]"), item("1", "[3,4]"))},
		{"bad base64", list(item("0", `"!!!"`), item("1", `"`+le32(3, 4)+`"`))},
		{"base64 not whole floats", list(item("0", `"AAAA"`), item("1", `"`+le32(3)+`"`))},
		{"base64 NaN", list(item("0", `"`+le32(float32(math.NaN()), 1)+`"`), item("1", `"`+le32(3, 4)+`"`))},
		{"base64 infinity", list(item("0", `"`+le32(float32(math.Inf(1)), 1)+`"`), item("1", `"`+le32(3, 4)+`"`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := providertest.NewFake(t, 200, map[string]string{"Content-Type": "application/json"}, []byte(tt.body))
			p := newProvider(t, f.URL+"/v1", f.Client(), "", "")
			resp, err := p.Embed(t.Context(), &llm.EmbedRequest{Input: []string{"a", "b"}})
			if resp != nil {
				t.Fatalf("Embed returned %+v for a malformed body", resp)
			}
			want := providertest.ErrSummary{Class: "transient", Status: 502, Type: llm.TypeUpstream, Code: CodeBadResponse,
				Message: "the model's provider sent a malformed response", Model: "test-model"}
			if got := providertest.Summarize(err); got != want {
				t.Errorf("error:\n got %+v\nwant %+v\n(%v)", got, want, err)
			}
		})
	}
}

// A server that ignores dimensions answers vectors of its default length;
// they are refused as unsupported so that the executor fails over at once.
func TestEmbedDimensionsIgnored(t *testing.T) {
	f := providertest.NewFake(t, 200, nil, providertest.ReadFile(t, "testdata/embed/dimensions.resp.json")) // 4 floats
	p := newProvider(t, f.URL+"/v1", f.Client(), "", "")
	_, err := p.Embed(t.Context(), &llm.EmbedRequest{Input: []string{"x"}, Dimensions: 256})
	want := providertest.ErrSummary{Class: "unsupported", Status: 400, Type: llm.TypeInvalidRequest, Code: "unsupported_parameter", Param: "dimensions",
		Message: "the model does not support dimensions=256; it returned 4-dimensional vectors", Model: "test-model"}
	if got := providertest.Summarize(err); got != want {
		t.Errorf("error:\n got %+v\nwant %+v", got, want)
	}
}

// Error answers are classified exactly as Chat classifies them: each body
// is sent to both and the errors must agree.
func TestEmbedErrorsMatchChat(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		want    providertest.ErrSummary // checked for Embed; Chat must agree
	}{
		{
			name:   "401 invalid key echoes the key",
			status: 401,
			body:   `{"error":{"message":"Incorrect API key provided: ` + testKey + `.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			want:   providertest.ErrSummary{Class: "auth", Status: 401, Type: llm.TypeAuthentication, Code: "invalid_api_key", Message: "Incorrect API key provided: <secret>."},
		},
		{
			name:    "429 rate limit with retry-after-ms",
			status:  429,
			headers: map[string]string{"Retry-After": "2", "retry-after-ms": "1500"},
			body:    `{"error":{"message":"Rate limit reached for text-embedding-3-small","type":"requests","code":"rate_limit_exceeded"}}`,
			want: providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: "rate_limit_exceeded", RetryAfter: 1500 * time.Millisecond,
				Message: "Rate limit reached for text-embedding-3-small"},
		},
		{
			name:    "429 Retry-After HTTP date",
			status:  429,
			headers: map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)},
			body:    `{"error":{"message":"slow down"}}`,
			want:    providertest.ErrSummary{Class: "rate_limit", Status: 429, Type: llm.TypeRateLimit, Code: CodeUpstreamError, RetryAfter: 90 * time.Second, Message: "slow down"},
		},
		{
			name:   "429 insufficient_quota",
			status: 429,
			body:   `{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
			want:   providertest.ErrSummary{Class: "quota", Status: 429, Type: llm.TypeRateLimit, Code: "insufficient_quota", Message: "You exceeded your current quota."},
		},
		{
			name:   "400 input too long",
			status: 400,
			body: `{"error":{"message":"This model's maximum context length is 8192 tokens, however you requested 9000 tokens.",` +
				`"type":"invalid_request_error","param":null,"code":"context_length_exceeded"}}`,
			want: providertest.ErrSummary{Class: "caller", Status: 400, Type: llm.TypeInvalidRequest, Code: "context_length_exceeded",
				Message: "This model's maximum context length is 8192 tokens, however you requested 9000 tokens."},
		},
		{
			name:   "400 dimensions not supported",
			status: 400,
			body:   `{"error":{"message":"This model does not support specifying dimensions.","type":"invalid_request_error","param":null,"code":null}}`,
			want:   providertest.ErrSummary{Class: "caller", Status: 400, Type: llm.TypeInvalidRequest, Code: CodeUpstreamError, Message: "This model does not support specifying dimensions."},
		},
		{
			name:   "404 vLLM model not served",
			status: 404,
			body:   `{"object":"error","message":"The model does not exist.","type":"NotFoundError","param":null,"code":404}`,
			want:   providertest.ErrSummary{Class: "unsupported", Status: 404, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "The model does not exist."},
		},
		{
			name:   "500 server_error",
			status: 500,
			body:   `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`,
			want:   providertest.ErrSummary{Class: "transient", Status: 500, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "The server had an error while processing your request."},
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
			name:   "200 with an error body",
			status: 200,
			body:   `{"error":{"message":"No endpoints found","code":404}}`,
			want:   providertest.ErrSummary{Class: "unsupported", Status: 404, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "No endpoints found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := providertest.NewFake(t, tt.status, tt.headers, []byte(tt.body))
			p := newProvider(t, f.URL+"/v1", f.Client(), testKey, "")
			p.now = func() time.Time { return now }
			resp, err := p.Embed(t.Context(), &llm.EmbedRequest{Input: []string{"hello"}})
			if resp != nil {
				t.Fatal("Embed returned a response for an error")
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
			if !errors.As(err, &ue) {
				t.Errorf("cause = %#v, want an *UpstreamError", le.Cause)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error text holds the API key: %v", err)
			}
			_, chatErr := p.Chat(t.Context(), simpleRequest())
			if c, e := providertest.Summarize(chatErr), providertest.Summarize(err); c != e {
				t.Errorf("Chat and Embed disagree:\n chat %+v\nembed %+v", c, e)
			}
		})
	}
}

func TestEmbedTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := "http://" + ln.Addr().String() + "/v1"
	ln.Close()

	// blocking answers after the request body is read: with nothing
	// ("headers") or with 2xx headers and part of a body ("body"), then
	// waits for the client to go away.
	arrived := map[string]chan struct{}{"headers": make(chan struct{}), "body": make(chan struct{})}
	blocking := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed client only after the body
		stage := strings.TrimPrefix(r.URL.Path, "/")
		stage, _, _ = strings.Cut(stage, "/")
		if stage == "body" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"object":"list","data":[`))
			w.(http.Flusher).Flush()
		}
		if c, ok := arrived[stage]; ok {
			close(c)
		}
		<-r.Context().Done()
	}))
	t.Cleanup(blocking.Close)

	canceled := providertest.ErrSummary{Class: "canceled", Status: 499, Type: llm.TypeInvalidRequest, Code: CodeClientClosed, Message: "the client closed the request"}
	tests := []struct {
		name   string
		base   string
		ctx    func() (context.Context, context.CancelFunc)
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
			base: blocking.URL + "/early/v1",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx, cancel
			},
			want: canceled,
		},
		{
			name: "deadline passed",
			base: blocking.URL + "/early/v1",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(t.Context(), time.Unix(0, 0))
			},
			want: providertest.ErrSummary{Class: "transient", Status: 504, Type: llm.TypeTimeout, Code: CodeUpstreamTimeout, Message: "the model did not answer in time"},
		},
		{
			name:   "canceled while waiting for headers",
			base:   blocking.URL + "/headers/v1",
			during: func(cancel context.CancelFunc) { <-arrived["headers"]; cancel() },
			want:   canceled,
		},
		{
			name:   "canceled while reading the body",
			base:   blocking.URL + "/body/v1",
			during: func(cancel context.CancelFunc) { <-arrived["body"]; cancel() },
			want:   canceled,
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
			p := newProvider(t, tt.base, blocking.Client(), testKey, "")
			_, err := p.Embed(ctx, &llm.EmbedRequest{Input: []string{"hello"}})
			tt.want.Model = "test-model"
			if got := providertest.Summarize(err); got != tt.want {
				t.Errorf("error:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzEmbedResponse feeds arbitrary bodies to the embeddings decoder: it
// must not panic, and must return either exactly n vectors of one nonzero
// length or a classified *llm.Error.
func FuzzEmbedResponse(f *testing.F) {
	files, _ := filepath.Glob("testdata/embed/*.resp.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(2), uint8(0))
	}
	f.Add([]byte(`{"data":[{"index":0,"embedding":"AACAPw=="}]}`), uint8(1), uint8(1))
	f.Add([]byte(`{"error":{"message":"x","code":429}}`), uint8(1), uint8(0))
	p := &Provider{model: "fuzz", key: testKey, now: time.Now}
	f.Fuzz(func(t *testing.T, body []byte, n, dims uint8) {
		if n == 0 {
			return // Embed refuses an empty input before decoding
		}
		resp, err := p.decodeEmbeddings(body, int(n), int(dims))
		if err != nil {
			var le *llm.Error
			if !errors.As(err, &le) || le.Model != "fuzz" {
				t.Fatalf("error %T is not a classified *llm.Error: %v", err, err)
			}
			return
		}
		if len(resp.Vectors) != int(n) {
			t.Fatalf("%d vectors for %d inputs", len(resp.Vectors), n)
		}
		for i, v := range resp.Vectors {
			if len(v) == 0 || len(v) != len(resp.Vectors[0]) || (dims > 0 && len(v) != int(dims)) {
				t.Fatalf("vector %d has %d dimensions (first %d, asked %d)", i, len(v), len(resp.Vectors[0]), dims)
			}
		}
	})
}

func BenchmarkEmbedDecode(b *testing.B) {
	for _, format := range []string{"float", "base64"} {
		b.Run(format, func(b *testing.B) {
			const n, dims = 64, 1536
			var sb strings.Builder
			sb.WriteString(`{"object":"list","data":[`)
			vec := make([]float32, dims)
			for i := range vec {
				vec[i] = float32(math.Sin(float64(i))) / 40
			}
			for i := range n {
				if i > 0 {
					sb.WriteByte(',')
				}
				emb, _ := json.Marshal(vec)
				if format == "base64" {
					emb = []byte(`"` + le32(vec...) + `"`)
				}
				fmt.Fprintf(&sb, `{"object":"embedding","index":%d,"embedding":%s}`, n-1-i, emb)
			}
			sb.WriteString(`],"model":"m","usage":{"prompt_tokens":640,"total_tokens":640}}`)
			body := []byte(sb.String())
			p := &Provider{model: "bench"}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.decodeEmbeddings(body, n, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
