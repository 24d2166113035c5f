// Package classify provides the "classify" policy node: a classifier
// labels each request, and the label's subtree serves it.
//
// # What it does
//
// The classifier (package classify: rules, a learned text model or an
// embedding model) returns a label and the probability of every label.
// When the most probable label has a route and its probability is at least
// min_confidence, that route serves the request; when it is less sure, when
// the label has no route, or when the classifier fails (an embeddings call
// for an embedding model), the fallback serves it. The decision is a
// function of the request's content and the classifier only: the caller,
// headers, metadata and the requested model name play no part, and a
// prompt asking to be routed somewhere is text like any other.
//
// The trace records, for every request, the label, its probability, every
// label's probability, the classifier and the reason (for rules, the
// chosen label's largest terms); Decision is the label whose route served,
// or "fallback".
//
// # Config
//
//	classify:
//	  classifier:                    # exactly one classifier; see package classify
//	    rules: {preset: complexity}  # or model: FILE, or model: {file, embed_model}
//	  routes:                        # label -> subtree; at least one
//	    simple: mixtral
//	    complex: gpt-4
//	  min_confidence: 0.6            # in [0,1]; default 0.6
//	  fallback: gpt-4                # subtree; see below
//
// Every key of routes must be a label of the classifier; labels without a
// route go to the fallback. fallback defaults to the most capable model,
// taken to be the most expensive (input plus output price per token) of
// the routes' models, when every route is a plain model name; when any
// route is a subtree, fallback is required, since "most capable" of a tree
// is not well defined.
//
// The model file of a learned classifier is loaded when the config is
// built: `sextant config check` reports a missing or wrong file, and a
// reload (SIGHUP or file change) reads the file again, so retraining in
// place and reloading takes effect. Paths are relative to the config
// file; builtin:NAME names a model embedded in the binary.
//
// Offline evaluation sweeps and calibrates min_confidence (package
// eval/knob): raising it sends more requests to the fallback.
//
// # Metrics
//
// None of its own; the decision is in every trace.
//
// # Failure behaviour
//
// A config error names its path (routes.r.classify.routes.maths: "maths"
// is not a label of rules:domain (labels: general, code, math, writing)).
// At run time a classifier error sends the request to the fallback, with
// the error as the reason; a canceled context returns its error. The
// chosen subtree's error is returned as it is.
//
// # Example
//
//	routes:
//	  by-domain:
//	    classify:
//	      classifier: {rules: {preset: domain}}
//	      routes: {code: gpt-4, math: gpt-4, writing: mixtral, general: mixtral}
//	      min_confidence: 0.5
//	      fallback: {fallback: [gpt-4, sim-large]}
package classify
