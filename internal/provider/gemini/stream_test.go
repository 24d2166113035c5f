package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/providertest"
	"github.com/sextant-router/sextant/internal/provider/upstream"
)

var streamCases = []struct {
	name    string // also the fixture testdata/stream/<name>.sse
	options string
	req     *llm.Request
}{
	{name: "text", req: simpleRequest()},
	{name: "function_call", req: &llm.Request{
		Messages:   []llm.Message{{Role: llm.RoleUser, Content: "Weather in Boston and Paris?"}},
		Tools:      []llm.Tool{weatherTool},
		ToolChoice: json.RawMessage(`"required"`),
	}},
	{name: "two_candidates", req: &llm.Request{
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Name a color."}}, N: ptr(2), MaxTokens: ptr(3),
	}},
	{name: "blocked", req: simpleRequest()},
	{name: "safety", req: simpleRequest()},
	{name: "logprobs", req: &llm.Request{
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Say hi"}}, Logprobs: true, TopLogprobs: ptr(1),
	}},
	{name: "truncated", req: simpleRequest()},
	{name: "error_event", req: simpleRequest()},
}

// TestChatStream streams testdata/stream/<case>.sse from a fake and checks
// the request against <case>.req.json and the chunks and the way the
// stream ended against <case>.want.json.
func TestChatStream(t *testing.T) {
	for _, tt := range streamCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := "testdata/stream/" + tt.name
			f := newFake(t, 200, nil, providertest.ReadFile(t, dir+".sse"))
			f.SSE = true
			p := newProvider(t, f.URL+"/v1beta", f.Client(), testKey, tt.options)
			s, err := p.ChatStream(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			defer s.Close()
			chunks, end := providertest.Drain(t, s)
			got := f.Last(t)
			checkRequest(t, got, "/v1beta/models/gemini-test:streamGenerateContent", "alt=sse", dir+".req.json", testKey)
			if accept := got.Header.Get("Accept"); accept != "text/event-stream" {
				t.Errorf("Accept = %q", accept)
			}
			out, _ := json.Marshal(map[string]any{"chunks": chunks, "end": end})
			providertest.CheckGolden(t, dir+".want.json", out)

			// The end is sticky.
			if more, again := providertest.Drain(t, s); len(more) != 0 || again != end {
				t.Errorf("after the end: %d chunks, then %v", len(more), again)
			}
		})
	}
}

// A stream must never look complete unless every candidate finished.
func TestStreamTruncatedIsNotEOF(t *testing.T) {
	for _, body := range []string{
		"",
		": keep-alive\n\n",
		`data: {"usageMetadata":{"promptTokenCount":1}}` + "\n\n",
		`data: {"candidates":[{"content":{"parts":[{"text":"a"}]}}]}` + "\n\n",
		`data: {"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"}]}` + "\n\n" +
			`data: {"candidates":[{"content":{"parts":[{"text":"b"}]},"ind`,
		`data: {"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"},{"index":1,"content":{"parts":[{"text":"b"}]}}]}` + "\n\n",
		`data: {"candidates":[{"finishReason":"STOP"}]}`, // no blank line after the last event
	} {
		f := newFake(t, 200, nil, []byte(body))
		f.SSE = true
		p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
		s, err := p.ChatStream(t.Context(), simpleRequest())
		if err != nil {
			t.Fatal(err)
		}
		_, end := providertest.Drain(t, s)
		sum, ok := end.(providertest.ErrSummary)
		if !ok || sum.Class != "transient" || sum.Code != CodeStreamTruncated || sum.Status != http.StatusBadGateway {
			t.Errorf("body %q ended with %+v, want a transient stream_truncated error", body, end)
		}
		s.Close()
	}
}

// A connection that breaks mid-stream is a truncated stream.
func TestStreamConnectionDrop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(`data: {"candidates":[{"content":{"parts":[{"text":"a"}]}}]}` + "\r\n\r\n"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	p := newProvider(t, srv.URL+"/v1beta", srv.Client(), "", "")
	s, err := p.ChatStream(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chunks, end := providertest.Drain(t, s)
	if len(chunks) != 1 {
		t.Errorf("got %d chunks, want 1", len(chunks))
	}
	if sum, ok := end.(providertest.ErrSummary); !ok || sum.Class != "transient" || sum.Code != CodeStreamTruncated {
		t.Errorf("ended with %+v, want a transient stream_truncated error", end)
	}
}

// An event that is not a GenerateContentResponse is a malformed answer.
func TestStreamMalformedEvent(t *testing.T) {
	f := newFake(t, 200, nil, []byte("data: {\"candidates\": \"nope\"}\n\n"))
	f.SSE = true
	p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
	s, err := p.ChatStream(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, end := providertest.Drain(t, s); end.(providertest.ErrSummary).Code != CodeBadResponse {
		t.Errorf("end = %+v, want bad_upstream_response", end)
	}
}

// hanging is a fake that sends one event, then waits until the client's
// request context is done and reports it on done.
func hanging(t *testing.T) (*httptest.Server, <-chan struct{}) {
	return providertest.Hanging(t, `data: {"candidates":[{"content":{"parts":[{"text":"a"}]}}]}`+"\r\n\r\n")
}

func TestStreamCloseCancelsUpstream(t *testing.T) {
	srv, done := hanging(t)
	p := newProvider(t, srv.URL+"/v1beta", srv.Client(), "", "")
	s, err := p.ChatStream(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	providertest.WaitDone(t, done)
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	_, err = s.Recv()
	if e := llm.AsError(err); e.Class != llm.ClassCanceled || e.Status != 499 {
		t.Errorf("Recv after Close = %+v, want canceled", e)
	}
}

// Close from another goroutine unblocks a Recv waiting on the upstream.
func TestStreamCloseUnblocksRecv(t *testing.T) {
	srv, done := hanging(t)
	p := newProvider(t, srv.URL+"/v1beta", srv.Client(), "", "")
	s, err := p.ChatStream(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := s.Recv(); errc <- err }()
	s.Close()
	providertest.WaitDone(t, done)
	if e := llm.AsError(<-errc); e.Class != llm.ClassCanceled {
		t.Errorf("blocked Recv returned %+v, want canceled", e)
	}
}

func TestStreamParentCancel(t *testing.T) {
	srv, done := hanging(t)
	p := newProvider(t, srv.URL+"/v1beta", srv.Client(), "", "")
	ctx, cancel := context.WithCancel(t.Context())
	s, err := p.ChatStream(ctx, simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = s.Recv()
	if e := llm.AsError(err); e.Class != llm.ClassCanceled || e.Status != 499 || e.Code != CodeClientClosed || e.Model != "test-model" {
		t.Errorf("Recv after cancel = %+v, want canceled", e)
	}
	providertest.WaitDone(t, done)
}

// deadlineCtx is a context whose deadline the test expires by hand, so
// that nothing waits on a clock.
type deadlineCtx struct {
	context.Context
	done chan struct{}
}

func newDeadlineCtx(parent context.Context) *deadlineCtx {
	return &deadlineCtx{Context: parent, done: make(chan struct{})}
}

func (c *deadlineCtx) expire()                     { close(c.done) }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.done }
func (c *deadlineCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// An expired deadline mid-stream is an upstream timeout, not a cancel.
func TestStreamDeadline(t *testing.T) {
	srv, done := hanging(t)
	p := newProvider(t, srv.URL+"/v1beta", srv.Client(), "", "")
	ctx := newDeadlineCtx(t.Context())
	s, err := p.ChatStream(ctx, simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	ctx.expire()
	_, err = s.Recv()
	if e := llm.AsError(err); e.Class != llm.ClassTransient || e.Status != 504 || e.Type != llm.TypeTimeout || e.Code != CodeUpstreamTimeout {
		t.Errorf("Recv after the deadline = %+v, want a 504 timeout", e)
	}
	providertest.WaitDone(t, done)
}

// At the end of a complete stream the connection is released without
// waiting for Close, and Close afterwards is harmless.
func TestStreamEndReleases(t *testing.T) {
	f := newFake(t, 200, nil, []byte(`data: {"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"}]}`+"\n\n"))
	f.SSE = true
	p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
	st, err := p.ChatStream(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	chunks, end := providertest.Drain(t, st)
	if end != "EOF" || len(chunks) != 2 {
		t.Fatalf("end = %v after %d chunks", end, len(chunks))
	}
	if !st.(*stream).body.Closed() {
		t.Error("stream not released at its end")
	}
	for range 2 {
		if err := st.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Errorf("Recv after Close = %v, want io.EOF", err)
	}
}

// A server that answers a stream request with a JSON body is not a stream.
func TestStreamJSONAnswer(t *testing.T) {
	tests := []struct {
		name, body string
		class      llm.Class
		code       string
	}{
		{name: "error object", body: `{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}`,
			class: llm.ClassRateLimit, code: "resource_exhausted"},
		{name: "error array", body: `[{"error":{"code":400,"message":"Bad","status":"INVALID_ARGUMENT"}}]`,
			class: llm.ClassCaller, code: "invalid_argument"},
		{name: "whole response", body: `[{"candidates":[]}]`, class: llm.ClassTransient, code: CodeBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, 200, nil, []byte(tt.body))
			p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
			_, err := p.ChatStream(t.Context(), simpleRequest())
			if e := llm.AsError(err); e.Class != tt.class || e.Code != tt.code {
				t.Errorf("err = %+v, want class %v code %s", e, tt.class, tt.code)
			}
		})
	}
}

func BenchmarkStreamDecode(b *testing.B) {
	body, err := os.ReadFile("testdata/stream/function_call.sse")
	if err != nil {
		b.Fatal(err)
	}
	p := &Provider{model: "bench", now: time.Now}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		s := newStream(p, upstream.NewBody(ctx, cancel, io.NopCloser(bytes.NewReader(body))))
		for {
			if _, err := s.Recv(); err != nil {
				break
			}
		}
		s.Close()
	}
}
