// Package peak provides the "peak" policy node: a load-aware switch
// between a normal subtree and a declared peak-mode subtree, with
// hysteresis so the route does not flap.
//
// # What it does
//
// Each request first updates the node's mode from two signals: the chat
// requests in flight in this process (internal/load) and the mean EWMA
// latency of the listed models (internal/signals, merged across replicas
// with shared state). In normal mode, the node enters peak mode when either
// reaches its enter level. In peak mode, it returns to normal once both are
// at or below their exit levels and it has stayed in peak mode at least
// min_dwell. Exit levels default to 80% of the enter levels, which is the
// hysteresis band. Every switch is logged (slog "peak mode") and the
// request's trace records the mode it was served in.
//
// Typical peak subtrees prefer faster models (a balance on latency), skip
// an expensive cascade tier, or use laxer gates.
//
// # Config
//
//	peak:
//	  normal: {cascade: ...}       # subtree in normal mode; required
//	  peak: {balance: {candidates: [fast-a, fast-b], strategy: latency}}  # required
//	  enter: {load: 200, latency_ms: 2000}   # at least one level, > 0
//	  exit: {load: 150, latency_ms: 1500}    # default 80% of enter; must be below enter
//	  models: [large-a, large-b]   # whose latency counts; required with latency_ms
//	  min_dwell: 10s               # default 10s
//
// # Failure behaviour
//
// Missing subtrees, no enter level, exit levels at or above enter levels,
// and latency_ms without models are config errors naming the path. The
// subtree's own errors are returned unchanged.
//
// # Example
//
//	routes:
//	  auto:
//	    peak:
//	      normal: {fallback: [large-a, fast-a]}
//	      peak: {balance: {candidates: [fast-a, fast-b, fast-c]}}
//	      enter: {load: 100}
package peak
