package state

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/redistest"

	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/signals"
)

func TestRedisSharesBetweenReplicas(t *testing.T) {
	addr := redistest.Start(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := RedisConfig{Addr: addr, Prefix: "t:", Sync: 20_000_000}
	sigA, sigB := signals.New(signals.Options{}), signals.New(signals.Options{})
	a, b := NewRedis(cfg, "", sigA, quiet), NewRedis(cfg, "", sigB, quiet)
	defer a.Close()
	defer b.Close()

	a.Set("sess", "m1", time.Minute)
	if v, ok := b.Get("sess"); !ok || v != "m1" {
		t.Fatalf("KV: %q %v", v, ok)
	}
	ca, cb := a.Counters(), b.Counters()
	ca.Add("k", Minute, 2)
	if n, end := cb.Add("k", Minute, 3); n != 5 || time.Until(end) > time.Minute {
		t.Fatalf("counters: %d %v", n, end)
	}
	if n, _ := ca.Get("k", Day); n != 0 {
		t.Fatalf("day counter shares the minute's: %d", n)
	}

	sigA.Record("m", signals.Result{Latency: 100 * time.Millisecond})
	sigA.Record("m", signals.Result{Latency: time.Second, Class: "transient"})
	until := time.Now().Add(time.Minute)
	a.Trip("m", until)
	sigB.SetShared(b)
	brk := health.New(health.Options{Log: quiet})
	brk.SetShared(b)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := sigB.Stats("m")
		if st.Requests == 2 && st.Errors == 1 && !brk.Healthy("m") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b never saw a's signals and trip: %+v, circuit %+v", st, brk.Status("m"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if brk.Allow("m") {
		t.Error("a peer's open circuit allowed a call")
	}
}
