// Package ui is Sextant's live dashboard at /ui, embedded in the binary.
//
// # What it does
//
// Recent is an engine.Observer that keeps the last N finished requests
// (ui.recent, default 2000) and 5-second buckets over the last 30 minutes.
// Handler serves the page (HTML, CSS and vanilla JavaScript with a small
// SVG chart kit, all under static/ and go:embed; nothing is loaded from
// the network) and JSON under /ui/api: the overview (requests, errors, cost
// per request and savings against the baseline over time; routing
// distribution per route; per-model calls, errors and latency percentiles
// from the recent requests; gate pass rates, cascade escalation share,
// cache hit rate; decision log health), recent decisions, one decision's
// full trace and feedback (from the decision log, or from memory), adding
// feedback, a route's latest `sextant eval` curve from ui.reports_dir, and
// the live A/B experiments of split nodes (package experiment) with their
// per-arm statistics, comparisons with the control and promotion state.
// `sextant top` reads the same overview.
//
// # Config
//
//	admin: {key_env: SEXTANT_ADMIN_KEY}   # the admin key, from the environment
//	ui:
//	  enabled: true
//	  reports_dir: reports   # report.json files of `sextant eval --out`, any depth up to 4
//	  recent: 2000
//
// With an admin key the dashboard and its API need it: as a bearer token
// (or X-Api-Key), or through the login form, which sets an HttpOnly,
// SameSite=Strict cookie holding an HMAC of the key (no server state; a
// new key ends every session). Without one the dashboard is open while the
// gateway is open (no client keys) and refused (403) otherwise.
//
// # Failure behaviour
//
// Observe takes one short lock and never blocks on I/O. A missing or
// unreadable reports directory shows no curve; a decision no longer in the
// log or the ring answers 404. Circuit states and budgets are reported as
// null until Sextant has them.
package ui
