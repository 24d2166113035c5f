// Package bandit provides the "bandit" policy node: a contextual bandit
// that learns which of its arms (single models or whole strategies) gives
// the best reward for each kind of request, from feedback scores, gate
// scores or both, net of cost and latency.
//
// # What it does
//
// For each request the node builds a context vector x from the request's
// features and the caller's tier (see Features), scores every arm with a
// linear model of its reward learned so far, serves the best-scoring arm's
// subtree, and later learns from what that answer earned:
//
//	reward = quality − lambda·cost_usd − mu·latency_s
//
// quality is in [0,1]: a feedback score (POST /v1/feedback, or a
// recorded label replayed by `sextant eval`) mapped from feedback.min..max,
// a gate score, or both; cost is the request's exact cost over every
// attempt, latency its time to the last byte. A failed request (status
// ≥ 400) has quality 0; a request the client cancelled (499) teaches
// nothing.
//
// The arithmetic is package internal/bandit: per arm, A = I + prior +
// Σ x xᵀ and b = prior + Σ r·x give the posterior N(A⁻¹b, v²A⁻¹) of the
// arm's weights, v² the reward noise estimated from the arm's residuals.
//
// Algorithms:
//
//	thompson  (default) draw the weights from each arm's posterior and
//	          serve the arm whose draw scores x highest
//	linucb    serve the arm with the highest xᵀθ̂ + alpha·sqrt(xᵀA⁻¹x)
//
// Thompson sampling is the default because feedback here is delayed and
// arrives in batches: between two updates many requests are decided on the
// same statistics, and LinUCB, deterministic given them, sends every one
// of those requests to the same arm, while Thompson's draws spread them
// over the arms in proportion to the chance that each is best. It also
// needs no tuning of alpha.
//
// Exploration is bounded: a decision whose winning arm is not the greedy
// one (the highest posterior mean) explores, and at most
// explore.max_share of the last explore.window decisions may; past that
// the greedy arm is served. explore.min_pulls, when set, first serves the
// arms with fewer observations round-robin.
//
// # Learning, persistence and replicas
//
// The node registers with learning.Default under its name (default: its
// config path) and writes that name into its trace decision. Per arm it
// keeps A, b, the count and the sums of rewards and squared rewards in a
// tally vector keyed
//
//	bandit/<name>/<arm>/<hash of the feature spec>
//
// so a reload, a restart (with the tally store configured) or another
// replica (with Redis) carries on from the same statistics, and a change
// of features starts afresh. Changing lambda, mu or the quality source
// keeps the statistics; give the node a new name to start over. A
// posterior is recomputed when this process added to its arm's statistics
// and at least every second (to see other replicas' additions), not per
// request.
//
// When a request finished, the node finds its decision in the trace and
// reads the arm and x from it. The reward is counted
//
//   - at finish, for a failed request (quality 0) and, with quality gate
//     or both, from the gate score: the node's own gates' verdict when it
//     has gates, else the last top-level gate verdict recorded inside the
//     arm (a cascade's accepted tier). An arm without a verdict teaches
//     nothing in gate mode.
//   - at feedback, with quality feedback or both. The first score adds an
//     observation, or, when one was counted at finish, replaces its reward
//     (b += x·(r_new − r_old); A is unchanged); a later score replaces the
//     previous score's reward the same way.
//
// Feedback keeps nothing in memory: it recomputes the arm, x, the cost,
// the latency and the reward counted at finish from the decision read
// back from the decision log, so it works after a restart or on another
// replica. Idempotency limits: the updates assume each event arrives
// once — a repeated Finished or a first feedback delivered twice counts
// the request twice, and two scores for one request racing on two
// replicas (each with the same previous) leave b off by one reward (one
// gateway serializes storing a score with reading the one it replaces). In feedback mode a request
// that never gets feedback is never learned from. With quality gate,
// feedback is ignored.
//
// # Features
//
// x[0] is always a bias of 1. The listed features follow, each scaled to
// about [0,1]:
//
//	tokens      log2(1 + prompt tokens) / 16 (capped at 1.5)
//	turns       user turns − 1, capped at 8, / 8
//	code        1 when the user wrote code
//	math        1 when the user wrote arithmetic, equations or LaTeX
//	multistep   1 when the user asks for steps
//	question    English question words, capped at 3, / 3
//	non_latin   1 when the last user message is not in Latin script
//	system      1 when a system or developer message is present
//	tools       1 when the caller declared tools
//	json        1 when the caller asked for JSON
//	images      1 when the messages hold images
//	max_tokens  log2(1 + max_tokens) / 16 (capped at 1.5)
//	stream      1 for a streaming request
//	tier        the caller's tier hashed into 4 one-hot elements
//	{tier: [free, pro, ...]}  one element per listed tier
//	{model: FILE}  a learned model's (package learn) predicted
//	          probability for each of its labels, in [0,1]
//
// A model feature lets the bandit learn a per-request policy from a
// model trained offline: with a win-rate model's P(the cheap model's
// answer is good enough) in x, each arm's reward is learned as a
// function of it, so the bandit finds online where the cheap arm pays.
// Its options:
//
//	{model: FILE | {file, embed_model},   # as in winrate; builtin:NAME too
//	 labels: [LABEL, ...],                # default: every label
//	 logit: false}                        # also logit(p)/8, clipped to ±1.5
//
// A two-label win-rate (or classifier) model's outputs sum to 1: list one
// label. The prediction honours learn.WithRecord, so under `sextant eval`
// a cross-fitted model answers with the fold that never saw the record.
// When the model cannot predict (an embeddings call failed) its elements
// take p = 0.5 and the trace's Data holds feature_error. The model file's
// name, a hash of its bytes, the labels and logit are part of the feature
// spec, so a retrained file starts fresh statistics.
//
// The default is every feature but max_tokens and stream, with the hashed
// tier: d = 16. d is at most 32: each arm keeps d² + d + 3 sums, and a
// decision costs O(d²) per arm.
//
// # Config
//
//	bandit:
//	  arms:                       # at least 2; a subtree, or {name, route}
//	    - mixtral                 # named by policy.Describe: "mixtral"
//	    - {name: careful, route: {cascade: {...}}}
//	  algorithm: thompson         # thompson | linucb
//	  alpha: 1                    # linucb only, in [0,100]
//	  features: [tokens, code, math, tier]   # default: see Features
//	  # or, e.g., [{model: winrate.json, labels: [mixtral], logit: true}]
//	  lambda: 0                   # reward per US dollar, ≥ 0
//	  mu: 0                       # reward per second, ≥ 0
//	  quality: feedback           # feedback | gate | both
//	  gates: [...]                # gate or both: judge every answer
//	  feedback: {min: 0, max: 1}  # the feedback score's scale
//	  explore: {max_share: 0.2, window: 100, min_pulls: 0}
//	  prior:                      # optional cold start
//	    weight: 10                # pseudo-observations per arm
//	    arms: {mixtral: {quality: 0.6, cost: 0.0002, latency: 0.8}}
//	    eval: report.json         # and/or a `sextant eval` JSON report
//	  name: ""                    # statistics key and learner id
//	  seed: 0                     # Thompson's random draws
//
// gates (any gate config: a list is all of them) run on the answer the arm
// returned, before a whole answer is returned and, for a stream, on the
// assembled answer once the stream ends: chunks pass through as they
// arrive and only the end of the stream waits for the gates. Gates that
// need more than the text (logprobs, several choices) cannot prepare the
// arm's request and skip. The verdict is recorded in the trace under
// <path>.gates.
//
// prior adds weight pseudo-observations per listed arm at the mean context
// served so far, with the reward its quality, cost (USD per request) and
// latency (seconds) give under lambda and mu. prior.eval reads a `sextant
// eval` report (one, or a list): an arm's numbers come from the baseline
// whose model is the arm's name, else the report whose route is, else the
// arm's by_model entry (quality and cost only); arms listed under
// prior.arms override it. Arms without an entry start with no prior.
//
// The node's seed makes the draws reproducible for a given order of
// requests and updates (as in `sextant eval`).
//
// # Trace
//
// One decision per request:
//
//	Kind: "bandit", Node: the node's path, Decision: the arm's name
//	Reason: why it won: "sampled 0.71 > 0.64 (gpt-4)", "ucb ...",
//	        "...; exploring, greedy arm is ...", "explore cap reached ...:
//	        greedy arm", "cold arm: 1 of min_pulls 5 observations"
//	Data: {learner, arm, arm_index, algorithm, x: [...], explore: bool,
//	       cold: true when min_pulls chose, feature_error: a model
//	       feature's failure,
//	       arms: [{name, mean, sd, sample, pulls} (thompson)
//	              {name, mean, ucb, pulls} (linucb)]}
//
// # Metrics
//
// None of its own; every decision with its estimates is in the trace.
//
// # Failure behaviour
//
// A config error names its path (routes.r.bandit.explore.max_share: must
// be in [0,1]). At run time the chosen arm's error is returned as it is
// (wrap arms in a fallback to fail over); the failed request then teaches
// the bandit quality 0 for that arm. Statistics that are not finite or not
// positive definite (a corrupted store) are ignored for that arm, which is
// served from its prior alone and marked stats_error in the trace.
//
// # Example
//
//	routes:
//	  learned:
//	    bandit:
//	      arms: [mixtral, gpt-4]
//	      lambda: 20           # a cent costs 0.2 quality
//	      quality: both
//	      gates: [{structure: {min_chars: 20}}]
//	      prior: {eval: eval/report.json}
package bandit
