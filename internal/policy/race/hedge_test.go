package race

import (
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/policy/policytest"
	"github.com/sextant-router/sextant/internal/signals"
)

func TestHedge(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		primary   time.Duration // the primary's latency
		cfg       string
		want      string
		decisions []string
		// hedgeStartMS is when the backup started (-1: never).
		hedgeStartMS float64
	}{
		{
			name:         "a slow primary is hedged after the delay",
			primary:      10 * time.Second,
			cfg:          `{"candidates":["a","b"],"hedge":{"delay":"100ms","budget":1}}`,
			want:         "backup",
			decisions:    []string{"hedge delay", "hedge:b", "win:b", "cancel:a"},
			hedgeStartMS: 100,
		},
		{
			name:         "a primary answering within the delay is not hedged",
			primary:      50 * ms,
			cfg:          `{"candidates":["a","b"],"hedge":{"delay":"100ms","budget":1}}`,
			want:         "primary",
			decisions:    []string{"hedge delay", "win:a"},
			hedgeStartMS: -1,
		},
		{
			name:         "no p95 yet: the default delay",
			primary:      10 * time.Second,
			cfg:          `{"candidates":["a","b"],"hedge":{"default_delay":"300ms","budget":1}}`,
			want:         "backup",
			decisions:    []string{"hedge delay", "hedge:b", "win:b", "cancel:a"},
			hedgeStartMS: 300,
		},
		{
			name:         "the budget refuses the first request's hedge",
			primary:      time.Second,
			cfg:          `{"candidates":["a","b"],"hedge":{"delay":"100ms","budget":0.5}}`,
			want:         "primary",
			decisions:    []string{"hedge delay", "cap:b", "win:a"},
			hedgeStartMS: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(map[string]*policytest.Model{"a": {Text: "primary", Delay: tt.primary}, "b": {Text: "backup", Delay: 10 * ms}})
				n := e.build(t, tt.cfg)
				c := e.Call(false)
				out, err := n.Serve(t.Context(), c)
				if err != nil {
					t.Fatal(err)
				}
				if got := policytest.Text(t, out); got != tt.want {
					t.Fatalf("answer %q, want %q", got, tt.want)
				}
				if got := decisions(c.Trace); !reflect.DeepEqual(got, tt.decisions) {
					t.Errorf("decisions %q, want %q", got, tt.decisions)
				}
				policytest.Ledger(t, c.Trace)
				started := -1.0
				for _, a := range c.Trace.Snapshot().Attempts {
					if a.Model == "b" {
						started = a.StartMS
					}
				}
				if started != tt.hedgeStartMS {
					t.Errorf("backup started at %v ms, want %v", started, tt.hedgeStartMS)
				}
			})
		})
	}
}

// TestHedgeBudget: during an outage (every primary slow) only budget's
// share of requests hedge, so the load cannot double. (The 40 requests
// take about 3s, within the budget window.)
func TestHedgeBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(map[string]*policytest.Model{"a": {Text: "primary", Delay: 100 * time.Millisecond}, "b": {Text: "backup", Delay: time.Millisecond}})
		n := e.build(t, `{"candidates":["a","b"],"hedge":{"delay":"10ms","budget":0.25}}`)
		const requests = 40
		for range requests {
			if _, err := n.Serve(t.Context(), e.Call(false)); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.Models["b"].Calls.Load(); got != requests/4 {
			t.Fatalf("%d hedges in %d requests, want %d (budget 0.25)", got, requests, requests/4)
		}
	})
}

func TestBudgetSlides(t *testing.T) {
	now := time.Unix(1000, 0)
	b := budget{share: 1}
	b.request(now)
	if !b.take(now) {
		t.Fatal("share 1: the first request may hedge")
	}
	if b.take(now) {
		t.Fatal("a second hedge for one request was allowed")
	}
	b.request(now.Add(5 * time.Second))
	if !b.take(now.Add(5 * time.Second)) {
		t.Fatal("a second request may hedge")
	}
	later := now.Add(budgetWindow + 6*time.Second)
	if b.take(later) {
		t.Fatal("requests out of the window still fund hedges")
	}
	if r, h := b.totals(later); r != 0 || h != 0 {
		t.Fatalf("totals after the window %d, %d; want 0, 0", r, h)
	}
}

func TestDelayForP95(t *testing.T) {
	reg := signals.New(signals.Options{})
	h := &hedge{p95: true, defaultDelay: time.Second, signals: reg}
	m := &catalog.Model{Name: "a"}
	if d, src := h.delayFor(m, false); d != time.Second || src == "p95" {
		t.Fatalf("no samples: %v (%s), want the default", d, src)
	}
	for i := range 100 {
		lat := 100 * time.Millisecond
		if i >= 97 {
			lat = 2 * time.Second
		}
		reg.Record("a", signals.Result{Latency: lat, TTFT: lat / 4})
	}
	d, src := h.delayFor(m, false)
	if src != "p95" || d < 95*time.Millisecond || d > 105*time.Millisecond {
		t.Fatalf("p95 of latency = %v (%s), want about 100ms", d, src)
	}
	if d, _ := h.delayFor(m, true); d < 23*time.Millisecond || d > 27*time.Millisecond {
		t.Fatalf("p95 of TTFT = %v, want about 25ms", d)
	}
	if d, _ := h.delayFor(nil, false); d != time.Second {
		t.Fatalf("a subtree primary: %v, want the default", d)
	}
}
