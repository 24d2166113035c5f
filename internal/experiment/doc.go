// Package experiment is the statistics of A/B/n experiments: per-arm
// accumulators kept as additive vectors, confidence intervals, tests
// against the control, an always-valid sequential test for automatic
// promotion, and the registry of live experiments. It knows nothing of
// policy trees; the split kind (internal/policy/split) feeds it, and the
// gateway (/v1/experiments) and the dashboard read it.
//
// # Accumulators
//
// An arm's statistics are one vector of Len float64 sums (Observation.Add,
// FeedbackDelta, Parse): requests, errors (status ≥ 500, or an upstream
// failure without an answer), canceled requests (499, not errors), cost
// per request (count, Σ, Σ²), latency of successful requests (count, Σ,
// Σ² and a fixed log-scale histogram of HistBuckets buckets, each 2^(1/4)
// wide, so p50/p95/p99 are within ±9%), feedback scores and gate scores
// (count, Σ, Σ²). Every element is a sum, so vectors of several replicas,
// or of one process before and after a restart, merge by addition (the
// tally package stores them). A replaced feedback score is subtracted.
//
// # Intervals and tests
//
// Means (cost, latency, feedback, gate) get Student's t interval with N-1
// degrees of freedom: it assumes independent requests and a mean that is
// close to normal, which for the skewed cost and latency distributions
// holds once an arm has a few dozen requests (central limit theorem); an
// arm with fewer than two observations has no interval (null in JSON).
// The error rate gets Wilson's score interval, which stays inside [0,1]
// and behaves at rates near 0.
//
// Each arm is compared with the control (the first arm): the difference
// of means with Welch's unequal-variance t-test (Welch–Satterthwaite
// degrees of freedom) and its interval; for the error rate the pooled
// two-proportion z-test and the unpooled (Wald) interval of the
// difference. These are fixed-horizon tests: "significant" (p < 1 -
// confidence) is what a single look at the numbers would conclude, and
// looking again and again inflates its false positive rate. Arms are
// compared one by one, without a multiple-comparison correction.
//
// # Automatic promotion
//
// A promotion rule is checked continuously, after every request, so it
// must not use the fixed-horizon p-value (peeking would make a false
// winner likely). Decide uses the mixture sequential probability ratio
// test of Johari, Pekelis and Walsh ("Always valid inference: continuous
// monitoring of A/B tests", Operations Research 2022): a normal mixture
// N(0, τ²) over the difference in means, with the difference's variance
// estimated from the data (MixtureSPRT). Under "no difference" the ratio
// is a martingale of mean 1, so the chance that it ever crosses 1/α is at
// most α (Ville's inequality): the false positive rate stays at most 1 -
// confidence however often the rule is checked. With k arms each
// challenger is tested at α/(k-1) (Bonferroni). τ is Effect (default 0.1)
// times the control's mean (at least Effect times the pooled standard
// deviation): the test is most powerful for effects of about that
// relative size. Error rates are tested as means of 0/1 observations.
// The plug-in variance makes the guarantee approximate for small samples;
// min_requests (default 200 per arm, counted both in requests and in the
// metric's own observations, e.g. feedback scores) keeps the test away
// from them. A
// simulation in the tests checks the false positive rate on equal arms.
//
// A cost, latency or error-rate winner is held back while its observed
// mean quality (feedback, else gate scores) is lower than another arm's
// by more than MaxQualityDrop, or while there is no quality data to check.
//
// # Registry
//
// Default maps experiment names to live experiments (Source): split nodes
// offer themselves when built, and a rebuilt node (a reload) replaces its
// predecessor when it serves its first request. Readers hide experiments whose route is no longer in the
// config.
package experiment
