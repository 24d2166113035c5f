package load

import (
	"sync"
	"testing"
)

func TestGauge(t *testing.T) {
	var g Gauge
	if g.Level() != 0 {
		t.Fatalf("zero gauge at %d", g.Level())
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				g.Inc()
			}
		})
	}
	wg.Wait()
	if g.Level() != 8000 {
		t.Fatalf("level %d after 8000 Inc", g.Level())
	}
	for range 7999 {
		g.Dec()
	}
	if g.Level() != 1 {
		t.Fatalf("level %d, want 1", g.Level())
	}
	g.Dec()
	g.Dec() // an unmatched Dec never shows a negative level
	if g.Level() != 0 {
		t.Fatalf("level %d, want 0", g.Level())
	}
}
