package load

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/bench/mock"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := Percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestReadStream(t *testing.T) {
	for _, c := range []struct {
		name, body string
		events     int
		err        string
	}{
		{"done", "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n", 3, ""},
		{"truncated", "data: {}\n\n", 1, "without [DONE]"},
		{"error event", "data: {}\n\ndata: {\"error\":{\"message\":\"x\"}}\n\n", 2, "error event"},
		{"comments and blank lines", ": hi\n\ndata: {}\n\ndata: [DONE]\n\n", 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := readStream(strings.NewReader(c.body), time.Now(), true)
			if s.Events != c.events {
				t.Errorf("events = %d, want %d", s.Events, c.events)
			}
			if c.err == "" && s.Err != nil || c.err != "" && (s.Err == nil || !strings.Contains(s.Err.Error(), c.err)) {
				t.Errorf("err = %v, want %q", s.Err, c.err)
			}
			if c.err == "" && len(s.Gaps) != c.events-1 {
				t.Errorf("%d gaps for %d events", len(s.Gaps), c.events)
			}
		})
	}
}

func TestSummarizeFlush(t *testing.T) {
	pace := 5 * time.Millisecond
	spread := Sample{Gaps: []time.Duration{5 * time.Millisecond, 6 * time.Millisecond, 5 * time.Millisecond}}
	burst := Sample{Gaps: []time.Duration{0, 0, 15 * time.Millisecond}}
	if f := SummarizeFlush([]Sample{spread, spread, spread}, pace); !f.Flushed || f.Spread != 1 {
		t.Errorf("spread streams: %+v", f)
	}
	if f := SummarizeFlush([]Sample{burst, burst, spread}, pace); f.Flushed {
		t.Errorf("bursty streams judged flushed: %+v", f)
	}
	if f := SummarizeFlush([]Sample{{Err: errors.New("x")}}, pace); f.Flushed || f.Streams != 0 {
		t.Errorf("failed streams: %+v", f)
	}
}

func TestSummarize(t *testing.T) {
	samples := []Sample{{Total: 2 * time.Millisecond}, {Total: 4 * time.Millisecond, First: time.Millisecond}, {Err: io.ErrUnexpectedEOF}}
	s := Summarize(samples, time.Second)
	if s.OK != 2 || s.Errors != 1 || s.RPS != 2 || s.P50 != 2 || s.Max != 4 || s.FirstP50 != 1 || s.FirstError == "" {
		t.Errorf("%+v", s)
	}
}

// TestOpenAndClosed runs both loops briefly against the mock: every
// request answers, and the open loop sends what its rate asks for.
func TestOpenAndClosed(t *testing.T) {
	srv := httptest.NewServer(mock.New(mock.Options{}).Handler())
	defer srv.Close()
	client := NewClient(16)
	defer client.CloseIdleConnections()
	for _, m := range []Mode{Chat, Stream} {
		d := &Doer{Client: client, Target: Target{URL: srv.URL + "/v1/chat/completions", Model: "mock"}, Mode: m}
		samples, measured := Open(context.Background(), d, 200, 50*time.Millisecond, 250*time.Millisecond)
		if len(samples) != 50 || measured <= 0 {
			t.Errorf("%s open: %d samples over %v, want 50", m, len(samples), measured)
		}
		if s := Summarize(samples, measured); s.Errors > 0 {
			t.Errorf("%s open: %+v", m, s)
		}
		samples, measured = Closed(context.Background(), d, 2, 20*time.Millisecond, 100*time.Millisecond)
		if s := Summarize(samples, measured); s.OK == 0 || s.Errors > 0 {
			t.Errorf("%s closed: %+v", m, s)
		}
		if m == Stream && samples[0].Events != 9 { // role, 5 contents, finish, usage, [DONE]
			t.Errorf("stream events = %d, want 9", samples[0].Events)
		}
	}
}
