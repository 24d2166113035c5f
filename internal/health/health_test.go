package health

import (
	"io"
	"log/slog"
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

func newTest() (*Breakers, *clock, *[]Transition) {
	c := &clock{t: time.Unix(1000, 0)}
	b := New(Options{ConsecutiveFailures: 3, MinRequests: 10, ErrorRate: 0.5, Cooldown: 2 * time.Second,
		MaxCooldown: 8 * time.Second, Now: c.now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var tr []Transition
	b.Listen(func(t Transition) { tr = append(tr, t) })
	return b, c, &tr
}

var fail, ok = Outcome{Failure: true}, Outcome{}

func TestLifecycle(t *testing.T) {
	b, c, tr := newTest()
	steps := []struct {
		name   string
		do     func()
		allow  bool
		state  string
		transN int
	}{
		{"fresh is closed", func() {}, true, "closed", 0},
		{"two failures stay closed", func() { b.Report("m", fail); b.Report("m", fail) }, true, "closed", 0},
		{"success resets the run", func() { b.Report("m", ok); b.Report("m", fail); b.Report("m", fail) }, true, "closed", 0},
		{"third in a row trips", func() { b.Report("m", fail) }, false, "open", 1},
		{"still open before cooldown", func() { c.add(1900 * time.Millisecond) }, false, "open", 1},
		{"half open after cooldown, one probe", func() { c.add(200 * time.Millisecond) }, true, "half_open", 2},
		{"probe fails: open again, cooldown doubled", func() { b.Report("m", fail) }, false, "open", 3},
		{"2s is not enough now", func() { c.add(2100 * time.Millisecond) }, false, "open", 3},
		{"4s is", func() { c.add(2 * time.Second) }, true, "half_open", 4},
		{"probe succeeds: closed", func() { b.Report("m", ok) }, true, "closed", 5},
	}
	for _, s := range steps {
		s.do()
		if got := b.Allow("m"); got != s.allow {
			t.Fatalf("%s: Allow = %v, want %v", s.name, got, s.allow)
		}
		if got := b.Status("m").State; got != s.state {
			t.Fatalf("%s: state %s, want %s", s.name, got, s.state)
		}
		if len(*tr) != s.transN {
			t.Fatalf("%s: %d transitions, want %d", s.name, len(*tr), s.transN)
		}
	}
	if n := b.Transitions("m")[[2]State{Closed, Open}]; n != 1 {
		t.Errorf("closed->open counted %d", n)
	}
}

func TestHalfOpenAllowsOneProbe(t *testing.T) {
	b, c, _ := newTest()
	for i := 0; i < 3; i++ {
		b.Report("m", fail)
	}
	c.add(3 * time.Second)
	if !b.Allow("m") || b.Allow("m") {
		t.Fatal("want exactly one probe")
	}
	b.Report("m", Outcome{Neutral: true}) // the probe was the caller's fault: slot freed, still half open
	if st := b.Status("m").State; st != "half_open" || !b.Allow("m") {
		t.Fatalf("state %s after neutral probe", st)
	}
}

func TestErrorRateTrip(t *testing.T) {
	b, _, _ := newTest()
	// Alternating failure and success never makes 3 in a row, but 50% of
	// 10 requests trips.
	for i := 0; i < 9; i++ {
		if i%2 == 0 {
			b.Report("m", fail)
		} else {
			b.Report("m", ok)
		}
	}
	if b.Status("m").State != "closed" {
		t.Fatal("tripped below min requests")
	}
	b.Report("m", ok)
	b.Report("m", fail)
	if b.Status("m").State != "open" {
		t.Fatalf("did not trip at 50%% of 11: %+v", b.Status("m"))
	}
}

func TestRetryAfterLengthensCooldown(t *testing.T) {
	b, c, _ := newTest()
	b.Report("m", fail)
	b.Report("m", fail)
	b.Report("m", Outcome{Failure: true, RetryAfter: 7 * time.Second})
	c.add(5 * time.Second)
	if b.Allow("m") || b.Healthy("m") {
		t.Fatal("opened before Retry-After passed")
	}
	c.add(2 * time.Second)
	if !b.Healthy("m") || !b.Allow("m") {
		t.Fatal("not half open after Retry-After")
	}
}

func TestNeutralDoesNotCount(t *testing.T) {
	b, _, _ := newTest()
	for i := 0; i < 50; i++ {
		b.Report("m", Outcome{Neutral: true})
	}
	if st := b.Status("m"); st.State != "closed" || st.ConsecutiveFailures != 0 {
		t.Fatalf("%+v", st)
	}
}
