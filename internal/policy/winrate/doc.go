// Package winrate provides the "winrate" policy node: RouteLLM's
// win-rate router generalised to any number of models. A learned model
// predicts, for each candidate, the probability that its answer to the
// request is good enough; the cheapest candidate whose probability clears
// the threshold serves the request.
//
// # What it does
//
// Candidates are catalog models, ordered by price (input plus output price
// per token, cheapest first; equal prices keep config order). The most
// expensive is the strongest: it needs no prediction and serves whenever
// no cheaper candidate qualifies. For a request the model file (package
// learn, kind winrate, written by `sextant train --kind winrate`) gives
// P(good) for each label, a label being a model name of the training data;
// candidates are tried from the cheapest, and the first with P(good) ≥
// threshold is chosen. With two candidates this is RouteLLM's router: the
// weak model when it is likely enough to be good, else the strong one.
//
// threshold trades quality for cost: 0 sends everything to the cheapest
// candidate, 1 everything to the strongest (unless a prediction is exactly
// 1). It is the knob `sextant eval --sweep` walks (0 to 1 by 0.01) and
// `sextant calibrate` tunes.
//
// Each candidate is matched to a label of the model file by, in order,
// an explicit `label`, its catalog name, or its upstream model name — so
// a catalog model `mixtral` with upstream
// `mistralai/Mixtral-8x7B-Instruct-v0.1` matches a file trained on the
// recorded data without configuration. Every candidate but the strongest
// must match a label.
//
// The decision is a function of the request's content and the model file
// only (see package classify): a prompt that asks for the most expensive
// model is featurized like any other text. The trace records the model
// file, the threshold, every candidate with its price and probability,
// the chosen candidate and why.
//
// # Config
//
//	winrate:
//	  model: ../models/gsm8k.winrate.json   # a winrate model file, relative to
//	                                        # the config file; or builtin:NAME; or
//	                                        # {file: FILE, embed_model: NAME} for a
//	                                        # model that reads embeddings
//	  candidates: [mixtral, gpt-4]          # two or more catalog models
//	  threshold: 0.5                        # in [0,1]; default 0.5
//
// A candidate may also be a mapping, to set its label or serve it through
// a subtree (e.g. with a stand-in when the model fails):
//
//	candidates:
//	  - {model: mixtral, route: {fallback: [mixtral, sim-small]}}
//	  - {model: gpt-4, label: gpt-4-1106-preview, route: {fallback: [gpt-4, sim-large]}}
//
// The model file is loaded when the config is built: `sextant config
// check` reports a missing file, a file of another kind or a candidate
// without a label, and a reload reads the file again.
//
// Cross-fitting: offline evaluation marks each request with its record id
// (learn.WithRecord); a model file with fold models then answers with the
// fold that was trained without that record, so evaluating a model on the
// data it was trained on is still out-of-sample.
//
// # Metrics
//
// None of its own; the decision is in every trace.
//
// # Failure behaviour
//
// Config errors name their path (routes.r.winrate.candidates[0]: model
// "mixtral" (upstream "...") is not a label of gsm8k.winrate.json (labels:
// ...); set label). At run time, when no prediction can be made (the
// embeddings call of an embedding model failed), the strongest candidate
// serves and the trace says why; a canceled context returns its error.
// The chosen candidate's error is returned as it is: wrap candidates in a
// fallback to fail over.
//
// # Example
//
//	routes:
//	  winrate:
//	    winrate:
//	      model: ../models/gsm8k.winrate.json
//	      candidates: [mixtral, gpt-4]
//	      threshold: 0.62
package winrate
