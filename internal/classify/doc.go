// Package classify holds request classifiers: each assigns a request one
// of a fixed set of labels with a calibrated probability, behind one small
// interface, Classifier. The policy kind "classify" (package
// policy/classify) routes by their labels; the policy kind "winrate"
// (package policy/winrate) uses Learned, the same model-file loader and
// request featurizer.
//
// # Classifiers
//
// A classifier is configured as a mapping with one key naming it.
//
// rules — a hand-set linear scorer over request features (package
// features), no training needed. Each label has a score: its bias, plus
// the weighted inputs below, plus the weights of its keywords found in the
// last user message (whole words or phrases, any case, each counted once).
// The probabilities are the softmax of the scores; with two labels that is
// the logistic of the difference of their scores, so a label with only a
// bias is the threshold of the other.
//
//	log_tokens      log2(1 + tokens of every message)
//	question_words  English interrogatives the user wrote (at most 10)
//	code            1 when the user wrote code
//	math            1 when the user wrote arithmetic, an equation or LaTeX
//	multi_step      1 when the user asks for steps or writes a numbered list
//	turns           user turns after the first (at most 10)
//	system          1 when a system or developer prompt is present
//	non_latin       1 when the last user message is mostly in a non-Latin script
//	tools           tools declared (at most 10)
//	json            1 when a JSON response is asked for
//	images          image parts (at most 10)
//
// Two presets (see Presets for their weights):
//
//	complexity  simple | complex. complex has bias -5 and rises with
//	            length (0.5 per doubling of tokens), multi-step (+1.5),
//	            maths and code (+1 each), question words (+0.3 each),
//	            follow-up turns (+0.7 each) and words like "prove",
//	            "derive", "step by step", "trade-off". A one-line factual
//	            question is simple with p≈0.96; a 2,000-token coding task
//	            complex with p≈0.99.
//	domain      general | code | math | writing. code rises with code in
//	            the prompt (+4) and words like "function", "bug", "SQL";
//	            math with arithmetic (+4) and words like "solve", "how
//	            many"; writing with words like "essay", "rewrite", "email".
//
//	classifier:
//	  rules: {preset: domain}          # complexity (default) | domain
//
//	classifier:
//	  rules:
//	    labels:                         # replaces the preset; two or more
//	      - {name: easy}
//	      - name: hard
//	        bias: -4
//	        weights: {log_tokens: 0.4, multi_step: 2, math: 1}
//	        keywords: {prove: 1, "step by step": 0.5}
//
// Inputs not named weigh 0. At most 256 distinct keywords, each at most 8
// words. The reason in a trace lists the chosen label's score and its
// largest terms, then the other labels' scores.
//
// model — a learned classifier, a model file of package learn (kind
// classifier) written by `sextant train --kind classifier`. A text model
// reads hashed word n-grams of the user messages and a few numeric
// features (learn.RequestExample). An embedding model reads a vector of
// the same text from an embeddings model of the catalog, called through
// the executor (retried, priced and traced like any call); that is the
// embedding classifier.
//
//	classifier:
//	  model: ../models/gsm8k.classifier.json       # relative to the config file
//
//	classifier:
//	  model: {file: intent.classifier.json, embed_model: sim-embed}
//
// embed_model defaults to the embeddings model the file was trained with.
// The file is loaded when the config is built, so `config check` validates
// it and a reload picks up a changed file.
//
// # Contract
//
// A classification is a function of the request's messages (and what
// package features derives from them) and the classifier's own config or
// model file: never of the caller, its key or tier, headers, metadata, the
// requested model name or sampling parameters. A prompt that asks to be
// routed somewhere is text like any other.
//
// # Failure behaviour
//
// Config errors name their path (routes.r.classify.classifier.model.file:
// open ...: no such file). The rules classifier never fails at run time;
// a learned classifier fails only when embedding the request fails, and
// the caller decides what to do then (the classify kind uses its fallback).
package classify
