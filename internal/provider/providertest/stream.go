package providertest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

// ErrSummary is how an *llm.Error appears in golden files.
type ErrSummary struct {
	Class      string        `json:"class"`
	Status     int           `json:"status"`
	Type       string        `json:"type"`
	Code       string        `json:"code"`
	Param      string        `json:"param,omitempty"`
	Message    string        `json:"message"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	Model      string        `json:"model"`
}

// Summarize is err's ErrSummary.
func Summarize(err error) ErrSummary {
	e := llm.AsError(err)
	return ErrSummary{Class: e.Class.String(), Status: e.Status, Type: e.Type, Code: e.Code, Param: e.Param,
		Message: e.Message, RetryAfter: e.RetryAfter, Model: e.Model}
}

// Drain reads s to its end: the chunks, then "EOF" or the error's
// ErrSummary. An error that is not an *llm.Error fails the test.
func Drain(t *testing.T, s llm.Stream) (chunks []*llm.Chunk, end any) {
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
			return chunks, Summarize(err)
		}
		chunks = append(chunks, ch)
	}
	t.Fatal("stream did not end")
	return nil, nil
}

// Hanging is a server that answers with an event stream holding event (a
// whole SSE event, terminator included), then waits until the client's
// request context is done and reports it on done.
func Hanging(t *testing.T, event string) (srv *httptest.Server, done <-chan struct{}) {
	c := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server watches for the client going away only once the
		// request body is read.
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(event))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(c)
	}))
	t.Cleanup(srv.Close)
	return srv, c
}

// WaitDone fails the test if a Hanging server never sees its request end;
// the timeout only bounds a broken test, nothing is timed.
func WaitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the upstream request was not canceled")
	}
}
