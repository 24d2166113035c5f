package state

import (
	"testing"
	"time"
)

func TestPeriods(t *testing.T) {
	at := time.Date(2026, 11, 30, 23, 59, 30, 0, time.UTC)
	tests := []struct {
		p      Period
		id     string
		endsIn time.Duration
	}{
		{Minute, "n" + "29406239", 30 * time.Second},
		{Day, "d20261130", 30 * time.Second},
		{Month, "m202611", 30 * time.Second},
	}
	for _, tc := range tests {
		id, end := tc.p.Window(at)
		if end.Sub(at) != tc.endsIn || (tc.p != Minute && id != tc.id) {
			t.Errorf("period %d: id %s end %v", tc.p, id, end)
		}
	}
}

func TestMemoryCounters(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 10, 0, time.UTC)
	c := NewMemoryCounters()
	c.now = func() time.Time { return now }
	if n, _ := c.Add("k", Minute, 3); n != 3 {
		t.Fatal(n)
	}
	if n, end := c.Add("k", Minute, 2); n != 5 || end.Sub(now) != 50*time.Second {
		t.Fatal(n, end)
	}
	c.Add("k", Day, 7)
	if n, _ := c.Get("other", Minute); n != 0 {
		t.Fatal("other key counted")
	}
	now = now.Add(time.Minute)
	if n, _ := c.Get("k", Minute); n != 0 {
		t.Fatalf("minute did not roll over: %d", n)
	}
	if n, _ := c.Get("k", Day); n != 7 {
		t.Fatalf("day count %d", n)
	}
}
