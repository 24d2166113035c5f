package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

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
	{name: "tool_calls", req: &llm.Request{
		Messages:   []llm.Message{{Role: llm.RoleUser, Content: "Weather and time in Paris?"}},
		Tools:      []llm.Tool{weatherTool},
		ToolChoice: json.RawMessage(`"auto"`),
	}},
	{name: "logprobs", req: &llm.Request{
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Say hi"}}, Logprobs: true, TopLogprobs: ptr(1),
		IncludeUsage: true,
	}},
	{name: "no_usage", options: `{"stream_usage": false}`, req: simpleRequest()},
	{name: "truncated", req: simpleRequest()},
	{name: "error", req: simpleRequest()},
	{name: "error_numeric_code", req: simpleRequest()},
	{name: "error_event", req: simpleRequest()},
}

// TestChatStream streams testdata/stream/<case>.sse from a fake and checks
// the request against <case>.req.json and the chunks and the way the
// stream ended against <case>.want.json.
func TestChatStream(t *testing.T) {
	for _, tt := range streamCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := "testdata/stream/" + tt.name
			f := providertest.NewFake(t, 200, nil, providertest.ReadFile(t, dir+".sse"))
			f.SSE = true
			p := newProvider(t, f.URL+"/v1", f.Client(), testKey, tt.options)
			s, err := p.ChatStream(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			defer s.Close()
			chunks, end := providertest.Drain(t, s)
			checkRequest(t, f.Last(t), dir+".req.json", testKey)
			if accept := f.Last(t).Header.Get("Accept"); accept != "text/event-stream" {
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

// A stream that ends without data: [DONE] must never look like a clean end.
func TestStreamTruncatedIsNotEOF(t *testing.T) {
	for _, body := range []string{
		"",
		"data: {\"id\":\"1\",\"choices\":[]}\n\n",
		"data: {\"id\":\"1\",\"choices\":[]}\n\ndata: {\"id\":\"1\",\"cho",
		"data: [DO",
	} {
		f := providertest.NewFake(t, 200, nil, []byte(body))
		f.SSE = true
		p := newProvider(t, f.URL+"/v1", f.Client(), "", "")
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
		w.Write([]byte("data: {\"id\":\"1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	p := newProvider(t, srv.URL+"/v1", srv.Client(), "", "")
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

// hanging is a fake that sends one chunk, then waits until the client's
// request context is done and reports it on done.
func hanging(t *testing.T) (*httptest.Server, <-chan struct{}) {
	return providertest.Hanging(t, "data: {\"id\":\"1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n")
}

func TestStreamCloseCancelsUpstream(t *testing.T) {
	srv, done := hanging(t)
	p := newProvider(t, srv.URL+"/v1", srv.Client(), "", "")
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
	p := newProvider(t, srv.URL+"/v1", srv.Client(), "", "")
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
	p := newProvider(t, srv.URL+"/v1", srv.Client(), "", "")
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

// At [DONE] the stream releases its connection without waiting for Close,
// and Close afterwards is harmless.
func TestStreamDoneReleases(t *testing.T) {
	f := providertest.NewFake(t, 200, nil, []byte("data: {\"id\":\"1\",\"choices\":[]}\n\ndata: [DONE]\n\n"))
	f.SSE = true
	p := newProvider(t, f.URL+"/v1", f.Client(), "", "")
	st, err := p.ChatStream(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	if _, end := providertest.Drain(t, st); end != "EOF" {
		t.Fatalf("end = %v", end)
	}
	if !st.(*stream).body.Closed() {
		t.Error("stream not released at [DONE]")
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
		{name: "error object", body: `{"error":{"message":"Rate limited","code":429}}`, class: llm.ClassRateLimit, code: CodeUpstreamError},
		{name: "whole response", body: `{"id":"x","choices":[]}`, class: llm.ClassTransient, code: CodeBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := providertest.NewFake(t, 200, nil, []byte(tt.body))
			p := newProvider(t, f.URL+"/v1", f.Client(), "", "")
			_, err := p.ChatStream(t.Context(), simpleRequest())
			if e := llm.AsError(err); e.Class != tt.class || e.Code != tt.code {
				t.Errorf("err = %+v, want class %v code %s", e, tt.class, tt.code)
			}
		})
	}
}

func BenchmarkStreamDecode(b *testing.B) {
	body, err := os.ReadFile("testdata/stream/tool_calls.sse")
	if err != nil {
		b.Fatal(err)
	}
	p := &Provider{model: "bench"}
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
