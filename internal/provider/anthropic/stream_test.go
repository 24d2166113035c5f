package anthropic

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
	name string // also the fixture testdata/stream/<name>.sse
	req  *llm.Request
}{
	// Text with pings, and usage with cache reads and writes that
	// message_delta restates.
	{name: "text", req: &llm.Request{
		Messages:     []llm.Message{{Role: llm.RoleSystem, Content: "Be brief."}, {Role: llm.RoleUser, Content: "Hello!"}},
		IncludeUsage: true,
	}},
	// Text, then two tool calls: one with input_json_delta fragments, one
	// whose input never gets a delta.
	{name: "tool_use", req: &llm.Request{
		Messages:   []llm.Message{{Role: llm.RoleUser, Content: "Weather and time in Paris?"}},
		Tools:      []llm.Tool{weatherTool, timeTool},
		ToolChoice: json.RawMessage(`"auto"`),
	}},
	// Thinking blocks, signature and citation deltas, and an event type
	// from the future are skipped.
	{name: "skipped_events", req: simpleRequest()},
	// Stops at max_tokens.
	{name: "max_tokens", req: &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "Count to 1000."}}, MaxTokens: ptr(5)}},
	// The overloaded_error event Anthropic documents, mid-stream.
	{name: "error_overloaded", req: simpleRequest()},
	{name: "error_rate_limit", req: simpleRequest()},
	// Ends after content, with no message_delta or message_stop.
	{name: "truncated", req: simpleRequest()},
	// Ends after message_delta, with no message_stop.
	{name: "no_message_stop", req: simpleRequest()},
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
			p := newProvider(t, f.URL, f.Client(), testKey, "")
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

// A stream that ends without message_stop must never look like a clean
// end.
func TestStreamTruncatedIsNotEOF(t *testing.T) {
	start := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n"
	for _, body := range []string{
		"",
		": comment only\n\n",
		"event: ping\ndata: {\"type\": \"ping\"}\n\n",
		start,
		start + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
		start + "event: message_stop\ndata: {\"type\":\"message_st",
		start + "event: message_stop\n",
	} {
		f := newFake(t, 200, nil, []byte(body))
		f.SSE = true
		p := newProvider(t, f.URL, f.Client(), "", "")
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

// An event whose data is not JSON is a malformed response, except an
// error event, whose text is kept as its message.
func TestStreamMalformedEvent(t *testing.T) {
	tests := []struct {
		body string
		want providertest.ErrSummary
	}{
		{body: "event: content_block_delta\ndata: {\"type\":\n\n",
			want: providertest.ErrSummary{Class: "transient", Status: 502, Type: llm.TypeUpstream, Code: CodeBadResponse, Message: "the model's provider sent a malformed response"}},
		{body: "event: error\ndata: Internal server error\n\n",
			want: providertest.ErrSummary{Class: "transient", Status: 502, Type: llm.TypeUpstream, Code: CodeUpstreamError, Message: "Internal server error"}},
	}
	for _, tt := range tests {
		f := newFake(t, 200, nil, []byte(tt.body))
		f.SSE = true
		p := newProvider(t, f.URL, f.Client(), "", "")
		s, err := p.ChatStream(t.Context(), simpleRequest())
		if err != nil {
			t.Fatal(err)
		}
		_, end := providertest.Drain(t, s)
		tt.want.Model = "test-model"
		if end != tt.want {
			t.Errorf("body %q ended with %+v, want %+v", tt.body, end, tt.want)
		}
		s.Close()
	}
}

// A connection that breaks mid-stream is a truncated stream.
func TestStreamConnectionDrop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\"}}\n\n"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	p := newProvider(t, srv.URL, srv.Client(), "", "")
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

// hanging is a fake that sends message_start, then waits until the
// client's request context is done and reports it on done.
func hanging(t *testing.T) (*httptest.Server, <-chan struct{}) {
	return providertest.Hanging(t, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\"}}\n\n")
}

func TestStreamCloseCancelsUpstream(t *testing.T) {
	srv, done := hanging(t)
	p := newProvider(t, srv.URL, srv.Client(), "", "")
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
	p := newProvider(t, srv.URL, srv.Client(), "", "")
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
	p := newProvider(t, srv.URL, srv.Client(), "", "")
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

// At message_stop the stream releases its connection without waiting for
// Close, and Close afterwards is harmless.
func TestStreamStopReleases(t *testing.T) {
	f := newFake(t, 200, nil, providertest.ReadFile(t, "testdata/stream/text.sse"))
	f.SSE = true
	p := newProvider(t, f.URL, f.Client(), "", "")
	st, err := p.ChatStream(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	var last *llm.Chunk
	for {
		ch, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ch.Usage != nil {
			last = ch
			break
		}
	}
	if last.Choices == nil || len(last.Choices) != 0 {
		t.Errorf("usage chunk has choices %v, want an empty list", last.Choices)
	}
	if !st.(*stream).body.Closed() {
		t.Error("stream not released at message_stop")
	}
	for range 2 {
		if err := st.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	}
	for range 2 {
		if _, err := st.Recv(); err != io.EOF {
			t.Errorf("Recv after message_stop and Close = %v, want io.EOF", err)
		}
	}
}

// A server that answers a stream request with a JSON body is not a stream.
func TestStreamJSONAnswer(t *testing.T) {
	tests := []struct {
		name, body string
		class      llm.Class
		code       string
	}{
		{name: "error object", body: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			class: llm.ClassTransient, code: "overloaded_error"},
		{name: "whole message", body: string(messageBody("end_turn", `[]`)), class: llm.ClassTransient, code: CodeBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, 200, nil, []byte(tt.body))
			p := newProvider(t, f.URL, f.Client(), "", "")
			_, err := p.ChatStream(t.Context(), simpleRequest())
			if e := llm.AsError(err); e.Class != tt.class || e.Code != tt.code {
				t.Errorf("err = %+v, want class %v code %s", e, tt.class, tt.code)
			}
		})
	}
}

func BenchmarkStreamDecode(b *testing.B) {
	body, err := os.ReadFile("testdata/stream/tool_use.sse")
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
