package anthropic

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/upstream"
)

// FuzzStream feeds arbitrary bodies to the stream decoder: it must not
// panic, must end, must return io.EOF only after message_stop, and must
// return every other end as a classified *llm.Error without the key.
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/stream/*.sse")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
	f.Add([]byte("data: {\"type\":\"content_block_delta\",\"index\":-1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n"))
	f.Add([]byte("data: {\"type\":\"content_block_stop\",\"index\":3}\n\n"))
	f.Add([]byte("event: error\ndata: not json " + testKey + "\n\n"))
	p := &Provider{model: "fuzz", key: testKey, now: time.Now}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx, cancel := context.WithCancel(context.Background())
		s := newStream(p, upstream.NewBody(ctx, cancel, io.NopCloser(strings.NewReader(string(body)))))
		defer s.Close()
		for range len(body) + 2 {
			ch, err := s.Recv()
			if err == nil {
				if ch == nil {
					t.Fatal("nil chunk without an error")
				}
				continue
			}
			if err == io.EOF {
				if !strings.Contains(string(body), "message_stop") {
					t.Fatal("io.EOF without message_stop")
				}
				return
			}
			var le *llm.Error
			if !errors.As(err, &le) || le.Model != "fuzz" || le.Status < 400 {
				t.Fatalf("unclassified end: %#v", err)
			}
			if strings.Contains(le.Error(), testKey) {
				t.Fatalf("error holds the key: %v", le)
			}
			return
		}
		t.Fatal("stream did not end")
	})
}

// FuzzErrorBody classifies arbitrary error responses: no panic, a class
// that matches the status, a bounded message, and never the API key.
func FuzzErrorBody(f *testing.F) {
	f.Add(400, []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"`+testKey+`"}}`))
	f.Add(429, []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"x","details":{"error_code":"enforced_spend_limit_reached"}}}`))
	f.Add(402, []byte(`{"type":"error","error":{"type":"billing_error","message":"x"}}`))
	f.Add(529, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	f.Add(500, []byte(`{"error":"boom"}`))
	f.Add(502, []byte("<html>bad gateway</html>"))
	f.Add(503, []byte(strings.Repeat("é", 2000)+testKey))
	p := &Provider{model: "fuzz", key: testKey, now: time.Now}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 400 || status > 599 {
			return
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{}}
		e := p.statusError(resp, body)
		if e.Status != status || e.Model != "fuzz" || e.Message == "" {
			t.Fatalf("bad error %+v", e)
		}
		if len(e.Message) > upstream.MaxMessageLen+len("…") {
			t.Fatalf("message of %d bytes", len(e.Message))
		}
		if strings.Contains(e.Error(), testKey) {
			t.Fatalf("error holds the key: %v", e)
		}
		want := llm.StatusClass(status)
		if status == statusOverloaded {
			want = llm.ClassTransient
		}
		if e.Class != want && e.Class != llm.ClassQuota && e.Class != llm.ClassTransient {
			t.Fatalf("class %v for status %d", e.Class, status)
		}
	})
}
