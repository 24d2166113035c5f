// Package learn holds Sextant's learned models: a featurizer that turns a
// request (or an answer) into hashed features, linear models trained in Go
// (L2-regularised logistic regression, L-BFGS) with calibrated
// probabilities, and the versioned model file they are saved in.
//
// # Models
//
// One Model serves three uses, named by its Kind:
//
//	classifier  Labels are classes; Predict returns a distribution over them
//	            (softmax with a fitted temperature; sums to 1).
//	winrate     Labels are candidate model names; Predict returns, for each,
//	            the calibrated probability that its answer is good enough
//	            (see Output below).
//	gate        Labels is ["accept"]; Predict returns the probability that
//	            an answer is acceptable.
//
// Input is "text" (Example.Text and Example.Numeric) or "embedding"
// (Example.Vector, from the embeddings model EmbeddingModel names, and
// Numeric). RequestExample is the one featurizer of requests, used alike
// in training and serving.
//
// A winrate model's Output is "independent" (each label's head is its
// prediction: P(the answer is as good as the best), or P(correct)) or
// "win_rate": the heads are each model's P(correct), learned from
// correct/incorrect outcomes, and the prediction for model m is its win
// rate against the best other model j, ties counting half, errors taken
// as independent: (1 + P(m right) - P(j right))/2. So a router that sends
// a request to the cheapest model whose prediction clears a threshold
// spends strong calls where the expected quality gain is largest, not on
// questions both models get wrong.
//
// # Speed
//
// Predict hashes the text in one pass (FNV-1a over bytes, word uni- and
// bigrams, char n-grams only over a bounded prefix) in batches pulled by
// the caller (no function value per feature) and sums dense float32
// weight rows, allocating only its result: about 20 µs of CPU for a
// 2,000-token prompt, mostly the byte-serial hashing
// (BenchmarkPredict2000Tokens, BenchmarkPredictShipped2000Tokens, which
// report p99-ns). TextExample skips features.Extract for models that read
// no numeric features. A model file loads in well under 100 ms
// (BenchmarkLoad).
//
// # Cross-fitting
//
// A model file also holds K fold models, fold k trained without the
// samples whose id hashes to fold k (FoldSeed with the file's seed) and
// without any other sample of the same text. Offline evaluation marks a
// request's context with its record id (WithRecord); Predict then uses
// the fold model that never saw that record, so an evaluation over the
// training data is still out of sample. Serving traffic never carries a
// record id and always uses the model trained on everything.
//
// The fold models' intercepts are aligned (each fold's mean logit over
// all samples set to the folds' average; no outcome is used): otherwise a
// fold whose held-out part has more good outcomes gets a lower intercept,
// which ranks exactly those records down when the folds' scores are mixed
// in one ranking.
//
// # Training
//
// Train featurizes the samples once, fits K fold models per candidate L2
// strength (in parallel), keeps the strength with the least calibrated
// out-of-fold log loss, fits Platt scaling (or isotonic regression; a
// temperature for classifiers) on the out-of-fold logits, and fits the
// full model. With TrainOptions.Valid it first runs the same procedure
// on the rest of the samples and measures the held-out share. The
// out-of-fold predictions are returned in the Report (and summarised in
// Info.CrossFit). TrainOptions.CategoryMix blends targets with the
// sample's category rate (a training-time-only label such as an MMLU
// subject), which denoises single outcomes.
//
// # File format
//
// JSON (optionally gzipped as a whole) with "format": "sextant-model" and
// "version": 1; Load refuses any other version with an error that says to
// retrain. Weights are stored per linear model as sparse int16 multiples
// of a per-model scale, deflated and base64-encoded. "builtin:NAME" loads
// a file embedded in the binary (builtin/NAME.json).
//
// # Quality
//
// The experiment harness (experiment_test.go, build tag "experiment")
// measures the router "strong when P(weak good) < t" out of fold on
// ../shared/data. The table of what was tried and what it scored is in
// QUALITY.md beside this file.
package learn
