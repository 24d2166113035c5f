// Package signals keeps live per-model signals that routing decisions read:
// total latency and time-to-first-token percentiles over a sliding window
// (DDSketch, 1% relative accuracy, mergeable), a fast exponentially
// weighted latency average, attempts and errors by failure class, requests
// in flight, decoding speed in tokens per second, spend, the mean
// user-feedback score by request category (POST /v1/feedback), and the
// upstream's latest rate-limit headroom (Stats.RateLimit).
//
// # What it does
//
// The executor calls Begin before every upstream attempt and the returned
// Done when the attempt ends, with its latency, TTFT, failure class, usage
// and cost. A Registry keeps, per model, a ring of Options.Slots slots that
// together span Options.Window; a slot older than the window is reset
// before it is reused, so reading a model merges only the live slots. The
// EWMA latency (time constant Options.HalfLife) reacts within a second or
// two to a shift that the window's percentiles only show once half the
// window has turned over; balancing reads it for that reason.
//
// Rate-limit headroom is not windowed: the adapters parse the upstream's
// rate-limit headers (internal/provider/upstream) into an llm.RateLimit on
// the response, the stream (llm.RateLimitReporter) or a 429's *llm.Error,
// the executor passes it in Result.RateLimit, and the model keeps the
// latest known report with the time its attempt ended. Stats.RateLimit
// renders it as of now: its age, the counts (-1 when not sent), the
// remaining shares, and the time left to each reset; once a window's reset
// has passed, its remaining count reads as its limit. Merged across
// replicas, the newest report wins (replicas usually share an API key).
//
// Default is the process-wide registry: it outlives config reloads, so
// a reload does not forget what the fleet has been doing.
//
// # Config
//
// None in the config file; Options has Window (default 30s), Slots
// (default 30) and HalfLife (default 2s).
//
// # Failure behaviour
//
// Nothing here fails: sketches reject only negative or NaN values, which
// are clamped to 0 first. A model never seen reads as an empty Stats with
// Requests 0. All methods are safe for concurrent use.
//
// # Example
//
//	done := signals.Default.Begin("fast-small")
//	// ... call the model ...
//	done(signals.Result{Latency: 420 * time.Millisecond, TTFT: 180 * time.Millisecond,
//	    CompletionTokens: 120, CostMicros: 35})
//	st := signals.Default.Stats("fast-small")
//	fmt.Println(st.LatencyP50MS, st.InFlight, st.ErrorRate)
package signals
