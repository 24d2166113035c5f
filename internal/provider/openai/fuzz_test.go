package openai

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
// panic, must end, must return io.EOF only after data: [DONE], and must
// return every other end as a classified *llm.Error.
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/stream/*.sse")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: [DONE]\n\n"))
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":-1}]}}]}\n\n"))
	f.Add([]byte("event: error\ndata: not json\n\n"))
	p := &Provider{model: "fuzz", key: testKey, now: time.Now}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx, cancel := context.WithCancel(context.Background())
		s := newStream(p, upstream.NewBody(ctx, cancel, io.NopCloser(strings.NewReader(string(body)))))
		defer s.Close()
		for range len(body) + 2 {
			_, err := s.Recv()
			if err == nil {
				continue
			}
			if err == io.EOF {
				if !strings.Contains(string(body), "[DONE]") {
					t.Fatal("io.EOF without [DONE]")
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

// FuzzErrorBody classifies arbitrary error responses: no panic, a status
// class that matches, a bounded message, and never the API key.
func FuzzErrorBody(f *testing.F) {
	f.Add(429, []byte(`{"error":{"message":"x","type":"insufficient_quota","code":"insufficient_quota"}}`))
	f.Add(400, []byte(`{"error":{"message":"`+testKey+`","code":"context_length_exceeded","param":"messages"}}`))
	f.Add(404, []byte(`{"object":"error","message":"no","code":404}`))
	f.Add(422, []byte(`{"detail":[{"msg":"x"}]}`))
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
		if e.Class != llm.StatusClass(status) && e.Class != llm.ClassQuota && e.Class != llm.ClassCaller {
			t.Fatalf("class %v for status %d", e.Class, status)
		}
	})
}
