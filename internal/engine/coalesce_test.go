package engine

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/trace"
)

// coalesceConfig streams at a visible pace (first chunk at 50ms, then 5ms
// a token) so that identical requests arrive while the first is in flight.
const coalesceConfig = `
executor:
  max_retries: 0
models:
  - name: slow
    provider: sim
    price: {input: 100, output: 200}
    options: {seed: 3, ttft: 50ms, tokens_per_second: 200, output_tokens: 20}
routes:
  auto:
    fallback: [slow]
cache:
  enabled: true
`

// cacheDecision returns x's cache decision.
func cacheDecision(t *testing.T, x *Exchange) trace.Decision {
	t.Helper()
	for _, d := range x.Trace.Snapshot().Decisions {
		if d.Kind == "cache" {
			return d
		}
	}
	t.Fatalf("no cache decision in %+v", x.Trace.Snapshot().Decisions)
	return trace.Decision{}
}

// streamReq is the same streaming request every time.
func streamReq() Inbound {
	return Inbound{ID: "r", Request: &llm.Request{Model: "auto", Stream: true,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "the same question"}}}}
}

// followerResult is what one follower got.
type followerResult struct {
	cache, reason, source, text string
	attempts                    int
	err                         error
}

// follow starts n identical streaming requests after the leader's has
// joined, and returns a func collecting what each got.
func follow(e *Engine, n int) func() []followerResult {
	out := make([]followerResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			x := e.Chat(context.Background(), streamReq())
			defer x.Finish(200, nil)
			r := followerResult{cache: x.Cache, err: x.Err, attempts: len(x.Trace.Snapshot().Attempts)}
			for _, d := range x.Trace.Snapshot().Decisions {
				if d.Kind == "cache" {
					r.reason = d.Reason
					r.source, _ = d.Data["cache"].(string)
				}
			}
			if x.Err == nil {
				r.text, r.err = drainQuiet(x.Outcome.Stream)
				r.attempts = len(x.Trace.Snapshot().Attempts)
			}
			out[i] = r
		})
	}
	return func() []followerResult { wg.Wait(); return out }
}

// drainQuiet is drain without a testing.TB, for goroutines.
func drainQuiet(st llm.Stream) (string, error) { return drain(nopTB{}, st) }

type nopTB struct{ testing.TB }

func (nopTB) Helper() {}

// TestStreamCoalescing: concurrent identical streaming requests make one
// upstream call; the leader streams live, the followers get its answer
// replayed as a "coalesced" exact hit.
func TestStreamCoalescing(t *testing.T) {
	e := New(build(t, coalesceConfig), nil)
	leaderDone := make(chan followerResult, 1)
	go func() {
		x := e.Chat(context.Background(), streamReq())
		defer x.Finish(200, nil)
		r := followerResult{cache: x.Cache, err: x.Err}
		if x.Err == nil {
			r.text, r.err = drainQuiet(x.Outcome.Stream)
		}
		r.attempts = len(x.Trace.Snapshot().Attempts)
		leaderDone <- r
	}()
	time.Sleep(10 * time.Millisecond) // the leader has joined; its first chunk is 40ms away
	const n = 6
	followers := follow(e, n)()
	leader := <-leaderDone
	if leader.err != nil || leader.cache != "miss" || leader.attempts != 1 || leader.text == "" {
		t.Fatalf("leader: %+v, want a miss with one upstream attempt", leader)
	}
	for i, f := range followers {
		if f.err != nil || f.cache != "hit" || f.reason != "coalesced" || f.source != "exact" || f.attempts != 0 {
			t.Errorf("follower %d: %+v, want a coalesced exact hit without an upstream attempt", i, f)
		}
		if f.text != leader.text {
			t.Errorf("follower %d got %q, the leader %q", i, f.text, leader.text)
		}
	}
	// And the answer is stored: the next request is a plain exact hit.
	x := e.Chat(context.Background(), streamReq())
	defer x.Finish(200, nil)
	if d := cacheDecision(t, x); x.Cache != "hit" || d.Reason != "" || d.Data["cache"] != "exact" {
		t.Fatalf("after the flight: %q %+v, want an exact hit", x.Cache, d)
	}
	drain(t, x.Outcome.Stream)
}

// TestStreamCoalescingLeaderGoesAway: when the leader's client closes its
// stream mid-way, the followers do not hang: each makes its own call.
func TestStreamCoalescingLeaderGoesAway(t *testing.T) {
	e := New(build(t, coalesceConfig), nil)
	leaderGone := make(chan error, 1)
	var collect func() []followerResult
	go func() {
		x := e.Chat(context.Background(), streamReq())
		if x.Err != nil {
			leaderGone <- x.Err
			x.Finish(500, x.Err)
			return
		}
		x.Outcome.Stream.Recv()
		time.Sleep(20 * time.Millisecond) // the followers are waiting
		x.Outcome.Stream.Close()
		x.Finish(499, nil)
		leaderGone <- nil
	}()
	time.Sleep(10 * time.Millisecond)
	const n = 3
	collect = follow(e, n)
	if err := <-leaderGone; err != nil {
		t.Fatal(err)
	}
	for i, f := range collect() {
		if f.err != nil || f.cache != "miss" || f.attempts != 1 || f.text == "" || f.reason != "the coalesced call ended without an answer" {
			t.Errorf("follower %d: %+v, want its own call after the leader went away", i, f)
		}
	}
}

// TestCacheSourceInTrace: the cache decision says which cache answered.
func TestCacheSourceInTrace(t *testing.T) {
	e := New(build(t, semanticConfig), nil)
	first := e.Chat(context.Background(), semReq("t1", "auto", nil))
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	first.Finish(200, nil)
	for _, tt := range []struct {
		name, source string
		in           Inbound
	}{
		{"exact", "exact", semReq("t1", "auto", nil)},
		{"semantic", "semantic", semReq("t1", "auto", lastUser("what is a sextant used for"))},
	} {
		x := e.Chat(context.Background(), tt.in)
		if d := cacheDecision(t, x); x.Cache != "hit" || d.Data["cache"] != tt.source {
			t.Errorf("%s: %q %+v, want a hit with data cache %q", tt.name, x.Cache, d, tt.source)
		}
		x.Finish(200, nil)
	}
}

// TestParallelExample: examples/parallel.yaml loads, its best_of_centroid
// route selects by embedding centroid, and a reworded question is a
// semantic cache hit.
func TestParallelExample(t *testing.T) {
	raw, err := os.ReadFile("../../examples/parallel.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := New(build(t, string(raw)), nil)
	ask := func(q string) *Exchange {
		return e.Chat(context.Background(), Inbound{ID: "r", Request: &llm.Request{Model: "best_of_centroid",
			Messages: []llm.Message{{Role: llm.RoleUser, Content: q}}}})
	}
	x := ask("What is the boiling point of water at sea level?")
	if x.Err != nil || x.Cache != "miss" {
		t.Fatalf("first: %v %q", x.Err, x.Cache)
	}
	var method any
	for _, d := range x.Trace.Snapshot().Decisions {
		if d.Kind == "best_of" && d.Decision == "select" {
			method = d.Data["method"]
		}
	}
	x.Finish(200, nil)
	if method != "centroid" {
		t.Fatalf("select method %v, want centroid", method)
	}
	y := ask("what is the boiling point of water at sea level")
	defer y.Finish(200, nil)
	if d := cacheDecision(t, y); y.Err != nil || y.Cache != "hit" || d.Data["cache"] != "semantic" {
		t.Fatalf("reworded: %v %q %+v, want a semantic hit", y.Err, y.Cache, d)
	}
}
