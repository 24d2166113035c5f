// Package eval is offline evaluation: it runs every record of a recorded
// data set (package dataset, the ../shared/data format) through a route of
// a config, on the engine that serves traffic — the same policy tree,
// executor, retries and cost accounting — with every model replaced by a
// replay of the data set, and measures the route as RouteLLM does.
//
// # What it does
//
// New rewrites the config's fleet so that nothing leaves the process (see
// rewriteFleet): replay models answer from the evaluated data set with
// realtime off, sims keep their options, live models become replays of the
// record model named like them, or sims when the data set lacks it. The
// providers are built once; each route, and each point of a sweep, is
// built by config.Build from a twin of the config (see withRoute) and put
// on the shared snapshot, so a sweep point costs no reload.
//
// Each record's first prompt turn is sent through the route; the model
// that answered it answers later turns directly (RouteLLM routes MT-Bench
// on the first turn). A record's quality is the label of the answering
// model's record model; a record answered by a model without a label is
// counted as unlabeled, one without an answer as failed. Records without
// an answer text for a model (MMLU) get a placeholder answer whose usage
// is the prompt's tokens and an estimated output length (Estimate), so that
// routing and cost proceed.
//
// Evaluate reports the route as configured (Summary), every model alone
// (baselines), the random router, and with a Sweep the knob's curve with
// PGR, APGR, CPT(50%) and CPT(80%) against strong-call share and cost
// share, and the Pareto frontier. Calibrate finds the knob value that hits
// a strong-call or cost share. FromLog summarises a decision log; Rerun
// re-runs its logged requests (those logged with store.log_requests)
// through a route of another config, with the config's sim and replay
// models as configured (realtime off; live models are refused), and
// reports both sides. A re-run answer's quality is the logged feedback
// score only when the re-run model is the logged model; otherwise it is
// unlabeled, as nothing judges the new answer. See
// metrics.go for the definitions and README.md ("Offline evaluation") for
// the command and its JSON.
//
// # Online learning
//
// A route holding a learning node (package learning: a bandit anywhere in
// its tree, or a split with a promote rule) runs as an online-learning
// simulation instead (runOnline): the records in order, one at a time;
// after each routed request the learners named in its trace get Finished
// with the decision the engine logs (captured by an engine observer, its
// latency replaced by the modeled one), and the answering model's recorded
// label arrives as Feedback before the next record — or, with
// Options.Concurrency k, k records later (delayed feedback). Every run
// (the route, each sweep point, each seed) gives the route's bandits a
// name no other run of the process used, so each starts from nothing
// (bandits keep their statistics under their name in tally.Default);
// Options.Seeds sets their seed to 0..Seeds-1. Results depend only on the
// data, the config and the seeds.
//
// With a bandit, Report.Learning measures it (see Learning): each arm
// alone (the route with the bandit replaced by the arm), the oracle (per
// record the arm with the best reward) and the route, by cumulative
// quality, cost, reward = quality − λ·cost − μ·latency with the bandit's
// λ and μ, and regret against the best fixed arm and the oracle, at every
// step and after 500, 1,000 and all requests; WriteDir adds the learning
// curve and regret plots.
//
// # Knobs
//
// A kind's knob is registered in package eval/knob by the kind itself; eval
// sets it in the route's config block and rebuilds the route. A route whose
// top kind has no knob is a single point.
//
// # Failure behaviour
//
// Config errors name their path, as for `sextant config check`. A request
// that fails is a failed record, counted by error code, never an abort;
// the evaluation stops only when its context ends. A data set whose record
// lacks a label is evaluated all the same, with the record counted as
// unlabeled.
//
// # Speed
//
// Records run concurrently (Options.Concurrency). Replayed answers are
// memoized per model and request (replay with realtime off is a pure
// function of the request), so sweep points after the first do no
// tokenizing. An 11-point sweep over MMLU's 9,830 records runs in seconds
// (BenchmarkSweepMMLU).
package eval
