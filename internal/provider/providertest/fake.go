package providertest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Fake is a provider's HTTP server. It records each request and answers
// with a fixed status, headers and body; an SSE body is written one event
// at a time with a flush after each, as a real server streams. Set the
// exported fields before the first request.
type Fake struct {
	*httptest.Server

	Status  int
	Headers map[string]string // set on every answer, after BaseHeaders
	Body    []byte
	SSE     bool // answer with Body as an event stream

	BaseHeaders map[string]string // set on every answer first, e.g. a request id
	SSEType     string            // Content-Type of an SSE answer; default "text/event-stream"
	JSONType    string            // Content-Type of a JSON Body when Headers set none; default "application/json"

	mu   sync.Mutex
	reqs []Recorded
}

// Recorded is a request a Fake received.
type Recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// NewFake starts a Fake that the test's cleanup closes.
func NewFake(t *testing.T, status int, headers map[string]string, body []byte) *Fake {
	t.Helper()
	f := &Fake{Status: status, Headers: headers, Body: body}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, Recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	f.mu.Unlock()
	for k, v := range f.BaseHeaders {
		w.Header().Set(k, v)
	}
	for k, v := range f.Headers {
		w.Header().Set(k, v)
	}
	if f.SSE {
		w.Header().Set("Content-Type", cmp.Or(f.SSEType, "text/event-stream"))
		w.WriteHeader(f.Status)
		for _, ev := range SplitEvents(f.Body) {
			w.Write(ev)
			w.(http.Flusher).Flush()
		}
		return
	}
	if w.Header().Get("Content-Type") == "" && json.Valid(f.Body) {
		w.Header().Set("Content-Type", cmp.Or(f.JSONType, "application/json"))
	}
	w.WriteHeader(f.Status)
	w.Write(f.Body)
}

// Last returns the last request the fake received.
func (f *Fake) Last(t *testing.T) Recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

// Count returns how many requests the fake received.
func (f *Fake) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// SplitEvents cuts an SSE body after each blank line (LF or CRLF), keeping
// terminators.
func SplitEvents(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i, n := bytes.Index(b, []byte("\n\n")), 2
		if j := bytes.Index(b, []byte("\r\n\r\n")); j >= 0 && (i < 0 || j < i) {
			i, n = j, 4
		}
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+n])
		b = b[i+n:]
	}
	return out
}
