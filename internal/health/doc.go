// Package health keeps a circuit breaker per model: passive outlier
// detection on the executor's attempts that takes a failing model out of
// rotation, probes it after a cooldown and puts it back when it answers.
//
// # What it does
//
// Every attempt's outcome is reported (Report). A closed circuit opens
// (trips) after Options.ConsecutiveFailures failures in a row, or when at
// least Options.MinRequests attempts in the last Options.Window failed at a
// rate of Options.ErrorRate or more. Only the upstream's failures count:
// transient errors, timeouts and rate limits; the caller's own errors and
// cancellations are neither failures nor successes. An open circuit refuses
// calls (Allow is false) for the cooldown: Options.Cooldown, doubled on
// every failed probe up to Options.MaxCooldown, and never shorter than a
// Retry-After the upstream sent. After the cooldown the circuit is half
// open: Allow lets Options.Probes calls at a time through; a success closes
// the circuit, a failure opens it again.
//
// Panic mode is the caller's decision: when every candidate of a choice is
// open, a balancing node routes as if all were healthy (Panic reports it)
// rather than refusing the request.
//
// Every state change is logged (slog, "circuit state" with model, from, to
// and reason) and counted (Transitions), and Listen lets the metrics
// package export them.
//
// Default is the process-wide set the executor reports to; it outlives
// config reloads.
//
// # Config
//
// Off by default; the config file's health block (Config) turns it on and
// sets the thresholds, which a reload may change without forgetting any
// circuit's state:
//
//	health: {enabled: true, consecutive_failures: 5, error_rate: 0.5,
//	         min_requests: 20, window: 10s, cooldown: 5s, max_cooldown: 60s, probes: 1}
//
// With shared state (internal/state's Redis, SetShared) a trip on one
// replica opens the circuit on every replica until its cooldown ends.
//
// # Failure behaviour
//
// Nothing here fails or blocks beyond a short mutex per model. An unknown
// model is closed.
//
// # Example
//
//	if !health.Default.Allow("fast-small") { /* skip it */ }
//	health.Default.Report("fast-small", health.Outcome{Failure: true, RetryAfter: 2 * time.Second})
package health
