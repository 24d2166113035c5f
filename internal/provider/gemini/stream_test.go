package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

// errSummary is how an *llm.Error appears in golden files.
type errSummary struct {
	Class      string        `json:"class"`
	Status     int           `json:"status"`
	Type       string        `json:"type"`
	Code       string        `json:"code"`
	Param      string        `json:"param,omitempty"`
	Message    string        `json:"message"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	Model      string        `json:"model"`
}

func summarize(err error) errSummary {
	e := llm.AsError(err)
	return errSummary{Class: e.Class.String(), Status: e.Status, Type: e.Type, Code: e.Code, Param: e.Param,
		Message: e.Message, RetryAfter: e.RetryAfter, Model: e.Model}
}

// drain reads s to its end: the chunks, then "EOF" or the error.
func drain(t *testing.T, s llm.Stream) (chunks []*llm.Chunk, end any) {
	t.Helper()
	for range 1000 {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return chunks, "EOF"
		}
		if err != nil {
			var le *llm.Error
			if !errors.As(err, &le) {
				t.Errorf("Recv error %T is not an *llm.Error: %v", err, err)
			}
			return chunks, summarize(err)
		}
		chunks = append(chunks, ch)
	}
	t.Fatal("stream did not end")
	return nil, nil
}

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
			f := newFake(t, 200, nil, readFile(t, dir+".sse"))
			f.sse = true
			p := newProvider(t, f.URL+"/v1beta", f.Client(), testKey, tt.options)
			s, err := p.ChatStream(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			defer s.Close()
			chunks, end := drain(t, s)
			got := f.last(t)
			checkRequest(t, got, "/v1beta/models/gemini-test:streamGenerateContent", "alt=sse", dir+".req.json", testKey)
			if accept := got.header.Get("Accept"); accept != "text/event-stream" {
				t.Errorf("Accept = %q", accept)
			}
			out, _ := json.Marshal(map[string]any{"chunks": chunks, "end": end})
			checkGolden(t, dir+".want.json", out)

			// The end is sticky.
			if more, again := drain(t, s); len(more) != 0 || again != end {
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
		f.sse = true
		p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
		s, err := p.ChatStream(t.Context(), simpleRequest())
		if err != nil {
			t.Fatal(err)
		}
		_, end := drain(t, s)
		sum, ok := end.(errSummary)
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
	chunks, end := drain(t, s)
	if len(chunks) != 1 {
		t.Errorf("got %d chunks, want 1", len(chunks))
	}
	if sum, ok := end.(errSummary); !ok || sum.Class != "transient" || sum.Code != CodeStreamTruncated {
		t.Errorf("ended with %+v, want a transient stream_truncated error", end)
	}
}

// An event that is not a GenerateContentResponse is a malformed answer.
func TestStreamMalformedEvent(t *testing.T) {
	f := newFake(t, 200, nil, []byte("data: {\"candidates\": \"nope\"}\n\n"))
	f.sse = true
	p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
	s, err := p.ChatStream(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, end := drain(t, s); end.(errSummary).Code != CodeBadResponse {
		t.Errorf("end = %+v, want bad_upstream_response", end)
	}
}

// hanging is a fake that sends one event, then waits until the client's
// request context is done and reports it on done.
func hanging(t *testing.T) (*httptest.Server, <-chan struct{}) {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server watches for the client going away only once the
		// request body is read.
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(`data: {"candidates":[{"content":{"parts":[{"text":"a"}]}}]}` + "\r\n\r\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(done)
	}))
	t.Cleanup(srv.Close)
	return srv, done
}

// waitDone fails the test if the fake never sees its request end; the
// timeout only bounds a broken test, nothing is timed.
func waitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the upstream request was not canceled")
	}
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
	waitDone(t, done)
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
	waitDone(t, done)
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
	waitDone(t, done)
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
	waitDone(t, done)
}

// At the end of a complete stream the connection is released without
// waiting for Close, and Close afterwards is harmless.
func TestStreamEndReleases(t *testing.T) {
	f := newFake(t, 200, nil, []byte(`data: {"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"}]}`+"\n\n"))
	f.sse = true
	p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
	st, err := p.ChatStream(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	chunks, end := drain(t, st)
	if end != "EOF" || len(chunks) != 2 {
		t.Fatalf("end = %v after %d chunks", end, len(chunks))
	}
	if !st.(*stream).closed.Load() {
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
		s := newStream(p, ctx, cancel, io.NopCloser(bytes.NewReader(body)))
		for {
			if _, err := s.Recv(); err != nil {
				break
			}
		}
		s.Close()
	}
}
