// Package balance provides the "balance" policy node: it chooses one model
// among candidates from live signals (internal/signals) and circuit health
// (internal/health), and fails over to the next best on a failure.
//
// # What it does
//
// For every request, and again before every failover, the candidates are
// filtered:
//
//   - health: a model whose circuit is open is left out; when that leaves
//     none, the node enters panic mode and uses every candidate that passed
//     the other filters, ignoring circuits (the trace says "panic");
//   - context window: a model whose context_window is set and smaller than
//     the request's prompt tokens plus max_tokens is left out;
//   - capabilities: a request with tools needs "tools", one with a JSON
//     response format "json", one with images "vision".
//
// The survivors are ranked by the strategy:
//
//	score        (default) power of two choices: two candidates drawn at
//	             random in proportion to their weights, the one with the
//	             lower score wins. score = latency estimate x (1 + in
//	             flight) / weight, where the latency estimate is the
//	             model's EWMA latency (reacts within seconds), or the
//	             fleet's lowest when the model has no samples yet.
//	latency      lowest p50 total latency over the signals window
//	p95          lowest p95 total latency
//	ttft         lowest p50 time to first token
//	least_busy   fewest requests in flight, ties by weight
//	cost         lowest price (input + output per million tokens)
//	weight       random in proportion to weight
//
// Models without samples rank first under latency, p95 and ttft so that
// they get measured. With probability explore (default 0.05) a request
// goes to a uniformly random survivor instead, so a model that was shifted
// away from is still measured and comes back once it heals.
//
// Stickiness (sticky: session | user | prefix): a request whose session
// key was served before goes to the same model while that model passes
// the filters (healthy, fits, capable), so provider prompt caches stay warm
// and a conversation stays on one model. session is the x-session-id
// header, falling back to the request's user; user is the request's user
// field, falling back to the caller's key name; prefix is a hash of the
// system prompt and the first user message. Assignments expire after
// sticky_ttl (default 30m) without use and are kept in memory (at most
// 100,000).
//
// On a failure whose class allows failover (not the caller's fault, not a
// cancellation) the next candidate is chosen the same way among those not
// yet tried, up to max_attempts models (default: all).
//
// # Config
//
//	balance:
//	  candidates: [fast-small, mid, large]   # model names; required, >= 1
//	  strategy: score        # see above; default score
//	  weights: {large: 2}    # per model, > 0; default 1
//	  explore: 0.05          # in [0,1]; default 0.05
//	  max_attempts: 2        # >= 1; default len(candidates)
//	  sticky: session        # none | session | user | prefix; default none
//	  sticky_ttl: 30m
//
// # Failure behaviour
//
// Unknown models, unknown strategies, weights for models that are not
// candidates, and out-of-range numbers are config errors naming the path.
// When no candidate passes the context and capability filters the request
// fails with 400 (the caller's request fits no model). Otherwise the last
// failure is returned when every attempt failed.
//
// # Example
//
//	routes:
//	  balance:
//	    balance: {candidates: [fast-small, fast-b, mid], strategy: score, sticky: session}
package balance
