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
// Offline evaluation sweeps and calibrates `share` (package eval/knob):
// `sextant eval --sweep` over a route `{split: {share, a: strong, b:
// weak}}` is the random router of RouteLLM, and `--seeds N` averages it
// over N seeds.
//
// # Metrics
//
// None of its own; the decision (arm, bucket, key) is in every trace.
//
// # Failure behaviour
//
// A config error names its path (routes.r.split.share: must be in [0,1]).
// At run time the chosen arm's error is returned as it is.
//
// # Example
//
//	routes:
//	  random:
//	    split: {share: 0.5, a: gpt-4, b: mixtral}
package split
