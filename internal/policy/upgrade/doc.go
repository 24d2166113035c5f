// Package upgrade provides the "upgrade" policy node: return the fast
// model's answer unless the slower, better model's answer arrives within a
// window and passes the gates.
//
// # What it does
//
// Both subtrees (a model name, {fallback: [...]}, ...) start at once, each
// under its own cancelable context. An answer "arrives" when it is whole: a
// response, or a stream read to its end (package hold's Collect). Then:
//
//   - The better answer arrives and passes the gates (or there are no
//     gates, or no gate could judge it): it is returned at once — before
//     or after the fast answer — and the fast branch is canceled if still
//     running.
//   - The fast answer arrives while the better branch still runs: the node
//     waits up to window, measured from the fast answer's arrival, for the
//     better answer. If none passing arrives in time, the fast answer is
//     returned and the better branch is canceled.
//   - The better answer fails its gates, or the better branch errs: the
//     fast answer (waiting for it, with no window, if it has not arrived).
//   - The fast branch errs: the node waits for the better branch with no
//     window. Its answer is returned even if it fails the gates (it is the
//     only answer); if it errs too, its error is returned.
//
// Only the better answer is judged; the fast answer is the default and
// needs no evidence. window 0 returns the fast answer as soon as it
// arrives unless a passing better answer came first.
//
// Canceled branches: a provider closes its upstream connection when its
// context ends, and Serve waits until the branch has returned and closes
// any stream it opened, so no goroutine or stream outlives the request.
// The executor records the canceled attempt once, as outcome "canceled",
// with the usage seen so far and its cost.
//
// # What a streaming client sees
//
// Nothing before the decision. Both branches' streams are held back: read
// to their ends while the node decides. The chosen answer is then replayed
// to the client chunk by chunk as it arrived from upstream (with anything
// the gates added to the request, such as logprobs, stripped); the other
// one is discarded. So a streaming client's first byte waits for the fast
// answer's whole stream at least, and at most for the window after it
// (or for the better answer's whole stream when the fast branch failed).
// Use upgrade for short answers where a brief delay buys quality; use
// race for time to first token.
//
// # Trace
//
// One decision of kind "upgrade" at the node's path: "fast" or "better"
// (the answer returned), or "error" when both branches failed, with a
// reason and data {window_ms, waited_ms, model}: waited_ms is the time from
// the fast answer's arrival to the decision (0 when the fast answer had
// not arrived or failed). The better answer's gate verdict is recorded
// under PATH.better.
//
// # Config
//
//	upgrade:
//	  fast: gpt-4o-mini     # subtree; required
//	  better: gpt-4o        # subtree; required
//	  window: 500ms         # wait after the fast answer; default 500ms, >= 0
//	  gates: [...]          # package gate, judging the better answer; default none
//
// # Metrics
//
// None of its own: attempts, costs and decisions are in the trace and the
// executor's metrics.
//
// # Failure behaviour
//
// Config errors are *conf.Error values naming the path (a missing fast or
// better, a negative window, an unknown gate). A branch's error never fails
// the request while the other may still answer. When the client's context
// ends both branches are canceled and Serve returns the executor-shaped
// 499 (or 504 on the request deadline).
//
// # Example
//
//	routes:
//	  upgrade:
//	    upgrade:
//	      fast: sim-fast
//	      better: sim-steady
//	      window: 300ms
//	      gates: [{structure: {min_chars: 20}}]
package upgrade
