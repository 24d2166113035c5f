package signals

import (
	"math"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestStats(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	r := New(Options{Window: 10 * time.Second, Slots: 10, Now: c.now})
	for i := 1; i <= 100; i++ {
		r.Record("a", Result{Latency: time.Duration(i) * time.Millisecond, TTFT: time.Duration(i) * time.Millisecond / 2,
			CompletionTokens: 10, CostMicros: 100})
	}
	r.Record("a", Result{Latency: time.Second, Class: "transient"})
	r.Record("a", Result{Latency: time.Second, Class: "rate_limit"})
	done := r.Begin("a")
	st := r.Stats("a")
	tests := []struct {
		name      string
		got, want float64
	}{
		{"requests", float64(st.Requests), 102},
		{"errors", float64(st.Errors), 2},
		{"error rate", st.ErrorRate, 2.0 / 102},
		{"in flight", float64(st.InFlight), 1},
		{"p50", st.LatencyP50MS, 50},
		{"p95", st.LatencyP95MS, 95},
		{"ttft p50", st.TTFTP50MS, 25},
		{"spend", st.SpendUSD, 0.01},
		{"transient", float64(st.ErrorsByClass["transient"]), 1},
	}
	for _, tc := range tests {
		if !near(tc.got, tc.want, 0.03) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	done(Result{Latency: time.Millisecond})
	done(Result{Latency: time.Millisecond}) // second call ignored
	if st := r.Stats("a"); st.InFlight != 0 || st.Requests != 103 {
		t.Errorf("after done: in flight %d requests %d", st.InFlight, st.Requests)
	}
	// The window slides: after 11s everything has expired but the total spend.
	c.add(11 * time.Second)
	st = r.Stats("a")
	if st.Requests != 0 || st.LatencyP50MS != 0 || st.SpendUSD != 0 || !near(st.SpendTotalUSD, 0.01, 0.01) {
		t.Errorf("after window: %+v", st)
	}
	if st := r.Stats("never"); st.Requests != 0 || st.Model != "never" {
		t.Errorf("unknown model: %+v", st)
	}
}

func TestEWMAReacts(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	r := New(Options{Window: 30 * time.Second, Slots: 30, HalfLife: time.Second, Now: c.now})
	for i := 0; i < 200; i++ {
		r.Record("a", Result{Latency: 100 * time.Millisecond})
		c.add(50 * time.Millisecond)
	}
	// Latency rises 5x; after 2 s of completions the EWMA is most of
	// the way there while the window's p50 has not moved.
	for i := 0; i < 40; i++ {
		r.Record("a", Result{Latency: 500 * time.Millisecond})
		c.add(50 * time.Millisecond)
	}
	st := r.Stats("a")
	if st.LatencyEWMAMS < 350 {
		t.Errorf("ewma %v after 2s of 5x latency, want >= 350", st.LatencyEWMAMS)
	}
	if st.LatencyP50MS > 150 {
		t.Errorf("p50 %v, want the window's old median", st.LatencyP50MS)
	}
}

func TestConcurrent(t *testing.T) {
	r := New(Options{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				done := r.Begin("m")
				done(Result{Latency: time.Millisecond, CompletionTokens: 1})
				_ = r.Stats("m")
			}
		}()
	}
	wg.Wait()
	if st := r.Stats("m"); st.Requests != 4000 || st.InFlight != 0 {
		t.Errorf("got %+v", st)
	}
}

func BenchmarkBeginDone(b *testing.B) {
	r := New(Options{})
	b.ReportAllocs()
	for b.Loop() {
		r.Begin("m")(Result{Latency: time.Millisecond})
	}
}

func BenchmarkStats(b *testing.B) {
	r := New(Options{})
	for i := 0; i < 1000; i++ {
		r.Record("m", Result{Latency: time.Duration(i) * time.Millisecond})
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Stats("m")
	}
}

func TestFeedback(t *testing.T) {
	r := New(Options{})
	r.Feedback("m", "math", 1)
	r.Feedback("m", "math", 0)
	r.Feedback("m", "", 0.5)
	fb := r.Stats("m").Feedback
	if fb["math"] != (FeedbackMean{Mean: 0.5, Count: 2}) || fb["uncategorized"] != (FeedbackMean{Mean: 0.5, Count: 1}) {
		t.Errorf("feedback %+v", fb)
	}
	if r.Stats("other").Feedback != nil {
		t.Error("feedback for an unseen model")
	}
}
