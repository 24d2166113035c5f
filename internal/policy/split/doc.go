// Package split provides the "split" policy node: an A/B/n split of
// traffic between subtrees by deterministic hashing.
//
// # What it does
//
// Each request is assigned to one arm by hashing a key into a bucket in
// [0,1) and walking the arms' cumulative weights: with weights 3 and 7 the
// buckets [0,0.3) go to the first arm and [0.3,1) to the second. The same
// key always lands in the same bucket, so an assignment is reproducible:
// replaying a data set splits it the same way every time, and a user or a
// session keyed split keeps each user or session on one arm. The hash is
// FNV-1a (64 bit) of the seed and the key, finished with the MurmurHash3
// 64-bit mixer; a different seed gives an independent assignment, which is
// how offline evaluation averages a random router over many seeds.
//
// Keys:
//
//	request   the request's content: every message's role, text and image
//	          URLs (not the model name, sampling parameters or metadata)
//	user      the request's "user" field, else the caller's key name
//	session   the caller's session (x-session-id)
//
// When a user or session key is absent the request's content is hashed
// instead, and the trace says so. The trace records, for every request,
// the arm chosen, the key kind and the bucket.
//
// A split only assigns: it does not fail over from one arm to another.
// Wrap arms in a fallback for that.
//
// # Config
//
// Two arms, where the knob is one number — `share`, the share of traffic
// sent to `a` (the rest goes to `b`):
//
//	split:
//	  share: 0.3          # in [0,1]; required
//	  a: gpt-4            # subtree taking buckets [0, share)
//	  b: mixtral          # subtree taking buckets [share, 1)
//	  key: request        # request | user | session; default request
//	  seed: 0             # non-negative integer; default 0
//
// Any number of arms:
//
//	split:
//	  key: user
//	  arms:
//	    - {name: control, route: gpt-4, weight: 9}
//	    - {name: cheap, route: {fallback: [mixtral, gpt-4]}, weight: 1}
//
// Weights are non-negative numbers (default 1) that need not sum to 1; an
// arm's share is its weight over the sum, and at least one must be
// positive. The two forms cannot be mixed. Arm names default to "a" and "b"
// in the short form and to "arms[i]" otherwise.
//
// # Experiment
//
// Every split is also an A/B/n experiment, named by `name` (default: the
// route's name when the split is the route's root, else its config
// path). It is a learner (package learning, id "split:"+name, written
// into its trace decision as "learner"): each finished request adds its
// cost, latency, status and the gate scores recorded under its arm to the
// arm's statistics, and POST /v1/feedback adds the request's score
// (replacing an earlier score of the same request). Statistics live in
// tally vectors under "experiment/<name>/<arm>/v1", so reloads, restarts
// and replicas share them; renaming an experiment or an arm starts it
// afresh. Package experiment computes the intervals and tests; the
// results are at GET /v1/experiments/{name} and in the dashboard.
//
//	split:
//	  name: cheap-test
//	  key: user
//	  arms:
//	    - {name: control, route: gpt-4}
//	    - {name: cheap, route: mixtral, weight: 0}
//	  rollout:                    # gradual rollout of one arm
//	    arm: cheap
//	    from: 0.05                # share at start (and before)
//	    to: 0.5                   # share from start+over on
//	    start: 2026-12-01T00:00:00Z
//	    over: 72h                 # linear in between
//	    # or steps: [{at: 2026-12-01T00:00:00Z, share: 0.05}, {at: ..., share: 0.2}]
//	    #   the share of the latest step at or before now (the first one's before it)
//	  promote:                    # optional automatic promotion
//	    metric: cost              # cost | quality | latency | error_rate
//	    confidence: 0.95          # default 0.95
//	    min_requests: 200         # per arm, default 200
//	    max_quality_drop: 0.02    # optional guard for cost/latency/error_rate wins
//	    effect: 0.1               # relative effect the sequential test is tuned to
//
// With a rollout (or a manual share) the ramped arm takes the buckets
// [1-share, 1) and the other arms share the rest in proportion to their
// weights, chosen by a second, independent hash of the key. Raising the
// share therefore only moves users into the ramped arm, never between the
// other arms (and lowering it only moves users out of it): assignment
// stays sticky while ramping. A manual share without a rollout keeps the
// other arms' users on their configured arms (their buckets rescaled), so
// the first ramp moves no one between them either. Without a rollout or
// ramp the layout above (cumulative weights) is unchanged.
//
// A manual ramp, POST /v1/experiments/{name} with {"share": 0.2} (for the
// rollout's arm, else the last arm) or {"weights": {"control": 1, ...}}
// (a new cumulative layout, not sticky), needs the admin key; it is
// stored with tally.Put so every replica follows it and it survives
// restarts, and it overrides the rollout until replaced.
//
// Promotion checks the rule after every finished request and feedback
// with an always-valid sequential test (the mixture SPRT of Johari et
// al.; see package experiment), so continuous checking does not inflate
// the false positive rate. When an arm wins, {winner, time, metric,
// evidence} is stored with tally.Put under "experiment/<name>/promotion"
// and logged at info; from then on every request goes to the winner and
// the trace reason says "promoted". Delete that value to restart.
//
// Offline evaluation sweeps and calibrates `share` (package eval/knob):
// `sextant eval --sweep` over a route `{split: {share, a: strong, b:
// weak}}` is the random router of RouteLLM, and `--seeds N` averages it
// over N seeds.
//
// # Metrics
//
// None of its own; the decision (arm, bucket, key, experiment, share,
// learner) is in every trace, and the experiment's statistics are at
// /v1/experiments.
//
// # Failure behaviour
//
// A config error names its path (routes.r.split.share: must be in [0,1]).
// At run time the chosen arm's error is returned as it is. An unreadable
// stored ramp or promotion is ignored (the configured layout applies). A
// split built by a reload only offers itself (it never replaces the live
// experiment) and claims the name with its first request, so a rejected
// reload leaves the live node registered; both share the same vectors. A promotion
// that cannot be stored is logged at error and retried on the next
// request.
//
// # Example
//
//	routes:
//	  random:
//	    split: {share: 0.5, a: gpt-4, b: mixtral}
package split
