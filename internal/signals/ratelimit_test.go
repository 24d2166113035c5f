package signals

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

func TestRateLimitKeepsLatest(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	r := New(Options{Window: 10 * time.Second, Slots: 10, Now: c.now})
	if r.Stats("m").RateLimit != nil {
		t.Fatal("headroom before any report")
	}
	first := llm.RateLimit{Known: true, LimitRequests: 100, RemainingRequests: 80, LimitTokens: 1000,
		RemainingTokens: 250, ResetRequests: 4 * time.Second, ResetTokens: 30 * time.Second}
	r.Record("m", Result{Latency: time.Millisecond, RateLimit: first})
	c.add(time.Second)
	// A report-less attempt, success or failure, keeps the last one.
	r.Record("m", Result{Latency: time.Millisecond})
	r.Record("m", Result{Latency: time.Millisecond, Class: "transient"})

	tests := []struct {
		name   string
		after  time.Duration // further clock advance before reading
		record *llm.RateLimit
		want   Headroom
	}{
		{name: "kept across report-less attempts", want: Headroom{AgeSeconds: 1, LimitRequests: 100, RemainingRequests: 80,
			LimitTokens: 1000, RemainingTokens: 250, ResetRequestsMS: 3000, ResetTokensMS: 29000,
			RemainingRequestsShare: 0.8, RemainingTokensShare: 0.25}},
		{name: "request window refilled after its reset", after: 4 * time.Second, want: Headroom{AgeSeconds: 5,
			LimitRequests: 100, RemainingRequests: 100, LimitTokens: 1000, RemainingTokens: 250, ResetTokensMS: 25000,
			RemainingRequestsShare: 1, RemainingTokensShare: 0.25}},
		{name: "a 429's report replaces it", record: &llm.RateLimit{Known: true, LimitRequests: -1, RemainingRequests: 0,
			LimitTokens: 2000, RemainingTokens: 0, ResetTokens: time.Second},
			want: Headroom{LimitRequests: -1, RemainingRequests: 0, LimitTokens: 2000, RemainingTokens: 0,
				ResetTokensMS: 1000, RemainingRequestsShare: -1, RemainingTokensShare: 0}},
		{name: "an unknown report does not replace it", after: 500 * time.Millisecond, record: &llm.RateLimit{},
			want: Headroom{AgeSeconds: 0.5, LimitRequests: -1, RemainingRequests: 0, LimitTokens: 2000, RemainingTokens: 0,
				ResetTokensMS: 500, RemainingRequestsShare: -1, RemainingTokensShare: 0}},
		{name: "outlives the window", after: time.Minute, want: Headroom{AgeSeconds: 60.5, LimitRequests: -1,
			RemainingRequests: 0, LimitTokens: 2000, RemainingTokens: 2000, RemainingRequestsShare: -1, RemainingTokensShare: 1}},
	}
	var at time.Time
	for _, tt := range tests {
		c.add(tt.after)
		if tt.record != nil {
			r.Record("m", Result{Latency: time.Millisecond, Class: "rate_limit", RateLimit: *tt.record})
			if tt.record.Known {
				at = c.now()
			}
		}
		if at.IsZero() {
			at = time.Unix(1000, 0)
		}
		got := r.Stats("m").RateLimit
		tt.want.At = at
		if got == nil || *got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestRateLimitMergeTakesNewest(t *testing.T) {
	old := &Headroom{At: time.Unix(100, 0), RemainingRequests: 5}
	newer := &Headroom{At: time.Unix(200, 0), RemainingRequests: 1}
	tests := []struct {
		name string
		a, b *Headroom
		want *Headroom
	}{
		{"peer newer", old, newer, newer},
		{"own newer", newer, old, newer},
		{"peer only", nil, old, old},
		{"own only", old, nil, old},
		{"none", nil, nil, nil},
	}
	for _, tt := range tests {
		if got := merge(Stats{RateLimit: tt.a}, Stats{RateLimit: tt.b}).RateLimit; got != tt.want {
			t.Errorf("%s: merged %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestRateLimitJSON(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0).UTC()}
	r := New(Options{Now: c.now})
	r.Record("m", Result{Latency: time.Millisecond})
	if b, _ := json.Marshal(r.Stats("m")); containsKey(t, b, "rate_limit") {
		t.Errorf("rate_limit before a report: %s", b)
	}
	r.Record("m", Result{RateLimit: llm.RateLimit{Known: true, LimitRequests: 10, RemainingRequests: 5,
		LimitTokens: -1, RemainingTokens: -1}})
	b, _ := json.Marshal(r.Stats("m"))
	var v struct {
		RateLimit map[string]any `json:"rate_limit"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.RateLimit["remaining_requests"] != 5.0 || v.RateLimit["remaining_requests_share"] != 0.5 ||
		v.RateLimit["remaining_tokens"] != -1.0 || v.RateLimit["at"] != "1970-01-01T00:16:40Z" {
		t.Errorf("rate_limit JSON: %s", b)
	}
}

func containsKey(t *testing.T, b []byte, key string) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	_, ok := m[key]
	return ok
}
