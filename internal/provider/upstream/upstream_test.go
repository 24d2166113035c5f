package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
)

func TestClip(t *testing.T) {
	if got := Clip("héllo", 2); got != "h…" {
		t.Errorf("Clip split a rune: %q", got)
	}
	if got := Clip("abc", 3); got != "abc" {
		t.Errorf("Clip = %q", got)
	}
}

// A key cut in half by clipping must not survive: redaction comes first.
func TestBodyText(t *testing.T) {
	key := "sk-" + strings.Repeat("k", 40)
	tests := []struct {
		name, body, text, msg string
	}{
		{name: "plain", body: "  bad gateway \n", text: "bad gateway", msg: "bad gateway"},
		{name: "html", body: "<html>oops</html>", text: "<html>oops</html>", msg: ""},
		{name: "binary", body: "\xff\xfe", text: "\xff\xfe", msg: ""},
		{name: "key at the cut", body: strings.Repeat("x", MaxMessageLen-10) + key,
			text: strings.Repeat("x", MaxMessageLen-10) + "<secret>", msg: strings.Repeat("x", MaxMessageLen-10) + "<secret>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, msg := BodyText([]byte(tt.body), conf.Secret(key))
			if text != tt.text || msg != tt.msg {
				t.Errorf("BodyText = %q, %q; want %q, %q", text, msg, tt.text, tt.msg)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, ms, after string
		want            time.Duration
		msOK            bool
	}{
		{name: "none"},
		{name: "seconds", after: "2", want: 2 * time.Second},
		{name: "fraction", after: " 1.5 ", want: 1500 * time.Millisecond},
		{name: "date", after: now.Add(30 * time.Second).Format(http.TimeFormat), want: 30 * time.Second},
		{name: "past date", after: now.Add(-time.Minute).Format(http.TimeFormat)},
		{name: "negative", after: "-1"},
		{name: "NaN", after: "NaN"},
		{name: "capped", after: "1e12", want: MaxRetryAfter},
		{name: "ms", ms: "250", want: 0, msOK: true},
		{name: "bad ms", ms: "soon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.after != "" {
				h.Set("Retry-After", tt.after)
			}
			if tt.ms != "" {
				h.Set("Retry-After-Ms", tt.ms)
			}
			if got := RetryAfter(h, now); got != tt.want {
				t.Errorf("RetryAfter = %v, want %v", got, tt.want)
			}
			if d, ok := RetryAfterMs(h); ok != tt.msOK || (ok && d != 250*time.Millisecond) {
				t.Errorf("RetryAfterMs = %v, %v", d, ok)
			}
		})
	}
}

func TestTransportError(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	cause := errors.New("boom")
	tests := []struct {
		name   string
		ctx    context.Context
		code   string
		status int
		class  llm.Class
		want   string
	}{
		{name: "canceled", ctx: canceled, code: CodeUpstreamUnreachable, status: 499, class: llm.ClassCanceled, want: CodeClientClosed},
		{name: "deadline", ctx: expired, code: CodeUpstreamUnreachable, status: 504, class: llm.ClassTransient, want: CodeUpstreamTimeout},
		{name: "unreachable", ctx: context.Background(), code: CodeUpstreamUnreachable, status: 502, class: llm.ClassTransient, want: CodeUpstreamUnreachable},
		{name: "truncated", ctx: context.Background(), code: CodeStreamTruncated, status: 502, class: llm.ClassTransient, want: CodeStreamTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := TransportError(tt.ctx, "m", cause, tt.code)
			if e.Status != tt.status || e.Class != tt.class || e.Code != tt.want || e.Model != "m" || !errors.Is(e, cause) {
				t.Errorf("TransportError = %+v", e)
			}
		})
	}
}

type closeCounter struct {
	io.Reader
	n int
}

func (c *closeCounter) Close() error { c.n++; return nil }

func TestBodyCloseIsIdempotentAndCancels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rc := &closeCounter{Reader: strings.NewReader("x")}
	b := NewBody(ctx, cancel, rc)
	if b.Closed() {
		t.Fatal("Closed before Close")
	}
	for range 3 {
		if err := b.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	}
	if !b.Closed() || rc.n != 1 || b.Context().Err() == nil {
		t.Errorf("after Close: closed %v, body closed %d times, ctx err %v", b.Closed(), rc.n, b.Context().Err())
	}
}

func TestPostStreamKeepsHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Ratelimit-Remaining-Requests", "7")
		io.WriteString(w, "data: x\n\n")
	}))
	defer srv.Close()
	b, err := PostStream(context.Background(), &Request{Client: srv.Client(), Model: "m", URL: srv.URL, Body: []byte("{}"),
		StatusError: func(*http.Response, []byte) *llm.Error { return &llm.Error{} }},
		func(*http.Response, []byte) *llm.Error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.Header().Get("x-ratelimit-remaining-requests"); got != "7" {
		t.Errorf("Header = %q", got)
	}
	if NewBody(context.Background(), func() {}, io.NopCloser(strings.NewReader(""))).Header() != nil {
		t.Error("NewBody has headers")
	}
}
