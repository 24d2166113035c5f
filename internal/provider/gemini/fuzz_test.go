package gemini

import (
	"context"
	"encoding/json"
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
// panic, must end, must return io.EOF only after a finishReason or a
// blocked prompt, and must return every other end as a classified
// *llm.Error.
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/stream/*.sse")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: {\"candidates\":[{\"index\":-1,\"finishReason\":\"STOP\"}]}\n\n"))
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":[1]}}]},\"finishReason\":\"STOP\"}]}\n\n"))
	f.Add([]byte("data: {\"error\":\"" + testKey + "\"}\n\n"))
	p := &Provider{model: "fuzz", key: testKey, now: time.Now}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx, cancel := context.WithCancel(context.Background())
		s := newStream(p, upstream.NewBody(ctx, cancel, io.NopCloser(strings.NewReader(string(body)))))
		defer s.Close()
		for range 2*len(body) + 4 {
			ch, err := s.Recv()
			if err == nil {
				if ch == nil || ch.Choices == nil {
					t.Fatalf("bad chunk %#v", ch)
				}
				continue
			}
			if err == io.EOF {
				if !strings.Contains(string(body), "finishReason") && !strings.Contains(string(body), "blockReason") {
					t.Fatal("io.EOF without a finishReason")
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

// FuzzErrorBody classifies arbitrary error responses: no panic, a bounded
// message, and never the API key.
func FuzzErrorBody(f *testing.F) {
	f.Add(429, []byte(rpcError(429, "RESOURCE_EXHAUSTED", "x", perDay, retryInfo30s)))
	f.Add(400, []byte(rpcError(400, "INVALID_ARGUMENT", testKey, keyInvalid)))
	f.Add(404, []byte(`[{"error":{"code":404,"message":"no","status":"NOT_FOUND"}}]`))
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
		if e.Status != status || e.Model != "fuzz" || e.Message == "" || e.Code == "" {
			t.Fatalf("bad error %+v", e)
		}
		if len(e.Message) > upstream.MaxMessageLen+len("…") {
			t.Fatalf("message of %d bytes", len(e.Message))
		}
		if strings.Contains(e.Error(), testKey) {
			t.Fatalf("error holds the key: %v", e)
		}
		if e.RetryAfter < 0 || e.RetryAfter > upstream.MaxRetryAfter {
			t.Fatalf("retry after %v", e.RetryAfter)
		}
	})
}

// FuzzFunctionParameters converts arbitrary schemas: no panic, and what
// comes out is a JSON object holding only keys the API's Schema knows.
func FuzzFunctionParameters(f *testing.F) {
	for _, s := range []string{
		`{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}},"$defs":{"x":{"type":["string","null"]}}}`,
		`{"allOf":[{"properties":{"a":{"type":"string"}}},{"required":["a"]}]}`,
		`{"anyOf":[{"type":"null"}],"enum":[null,1,"a"],"const":{}}`,
		`{"properties":{"a":{"$ref":"#/properties/a"}}}`,
		`{"items":[{}],"type":[1,"null"],"required":"a"}`,
	} {
		f.Add([]byte(s))
	}
	allowed := map[string]bool{"type": true, "properties": true, "required": true, "items": true, "anyOf": true, "enum": true,
		"format": true, "nullable": true}
	for k := range schemaKeys {
		allowed[k] = true
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := functionParameters(raw)
		if err != nil || out == nil {
			return
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("output is not JSON: %s", out)
		}
		var check func(v any)
		check = func(v any) {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("schema %v is not an object", v)
			}
			for k, sub := range m {
				if !allowed[k] {
					t.Fatalf("key %q left in %s", k, out)
				}
				switch k {
				case "properties":
					for _, ps := range sub.(map[string]any) {
						check(ps)
					}
				case "items":
					check(sub)
				case "anyOf":
					for _, a := range sub.([]any) {
						check(a)
					}
				}
			}
		}
		check(v)
	})
}
