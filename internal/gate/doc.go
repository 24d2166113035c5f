// Package gate judges answers: a Gate scores one model answer to a request
// and says whether it is acceptable. Cascades use gates to decide whether
// to escalate; races and selection reuse them to accept or rank answers.
//
// # What it does
//
// A gate's Check returns a Verdict: a Score in [0,1] (higher is better),
// Pass when the score reached the gate's threshold for this call, a short
// Reason, Metrics (the measurements behind the score) and Skipped when the
// gate could not judge (no log-probabilities, a prefix it cannot judge, a
// request that did not ask for JSON). An error means the gate could not run
// (a judge call failed); Run turns it into a failed verdict with the error
// as its reason, which is how cascades and races treat it.
//
// Gates combine with all, any and weighted (Combination). A combination's
// Score is the weighted mean of its judging children's scores (weight 1
// for all and any), its Verdicts are its children's verdicts in config
// order, and a combination whose children all skipped is skipped. all
// passes when every judging child passes, any when one does, weighted when
// its score reaches its own threshold. all stops at the first failing
// child and any at the first passing one (short_circuit: false runs every
// child); children not run are reported as skipped, so put the cheap gates
// first and the judge last. Names are unique within one tree: a gate is
// named by its kind unless configured with name.
//
// Gates that need more than the answer text implement Preparer: logprob
// asks models with the logprobs capability for log-probabilities, and
// consistency with inline: true asks for n samples. Prepare never changes
// the caller's request; whoever sends a prepared request hands the client
// only what it asked for with Strip (StripChunk for streams).
//
// A gate may be given a partial answer (Answer.Partial: the prefix of a
// stream held back at the commit point). structure and validator can fail
// a prefix (a forbidden pattern, a refusal, a wrong step) but never pass
// one; logprob judges a prefix like a whole answer once it has min_tokens
// tokens; the others skip.
//
// Answer.Analysis shares the text analysis of one answer (lower-cased
// text, arithmetic check, final answer) between the gates that judge it,
// so a combination does that work once.
//
// Record writes a verdict into the trace as decisions of kind "gate":
// decision pass, fail or skip, the reason, and data {gate, score,
// threshold, metrics, rule, parent}; a combination's children come first.
//
// # Config
//
// Build reads one gate or a combination:
//
//	{KIND: {...}}   one gate
//	"KIND"          one gate with its defaults
//	[g, g, ...]     all of them ({all: [...]})
//
// Every gate takes name and threshold. A threshold is a number in [0,1],
// or adapts to the caller's tier and to this process's load (requests in
// flight, counted by the engine in load.Default):
//
//	threshold: {default: 0.7, tiers: {premium: 0.85, free: 0.6}, peak: 0.5, peak_load: 64}
//
// peak applies to every caller while at least peak_load requests are in
// flight; otherwise the caller's tier's value, or default. Errors name the
// exact path: routes.r.cascade.gates[1].threshold.peak_load: required with
// peak.
//
// Combinations:
//
//	all: [g, ...]                     or {name, gates: [g, ...], short_circuit: true}
//	any: [g, ...]                     or {name, gates: [g, ...], short_circuit: true}
//	weighted: {threshold: 0.6, gates: [{gate: g, weight: 2}, {gate: g}]}   # weight default 1, threshold default 0.5
//
// structure (default threshold 1; score: the share of its checks that pass):
//
//	min_chars: 1            max_chars: 0 (no limit)
//	min_tokens: 0           max_tokens: 0 (cl100k tokens; usage's count when whole)
//	require: [REGEX, ...]   each must match (Go RE2 syntax)
//	forbid: [REGEX, ...]    none may match
//	refusals: true          an opening refusal fails (the message's refusal
//	                        field, or a phrase of answer.DefaultRefusals —
//	                        "I'm sorry, but I can't", "I cannot help with",
//	                        "as an AI language model, I cannot", ... — in the
//	                        first refusal_window bytes, default 300)
//	refusal_phrases: [...]  replaces the refusal list
//	max_hedges: (off)       fail above this many hedging phrases
//	                        (answer.DefaultHedges: "I think", "probably",
//	                        "not sure", "it seems", "might be", ...)
//	hedge_phrases: [...]    replaces the hedge list
//	truncation: true        finish_reason length fails
//
// Phrases match case-insensitively at word boundaries, with typographic
// apostrophes folded. Metrics: chars, tokens, hedges, refusal, truncated.
//
// json (default threshold 1; score 1 valid, 0.5 valid JSON that breaks the
// schema, 0 not JSON):
//
//	always: false           judge even when the request did not ask for JSON
//	request_schema: true    validate against response_format's json_schema
//	schema: {...}           a JSON Schema of its own (used when the request
//	                        has none)
//	fence: true             accept the JSON inside one ```json fence
//
// It skips requests that asked for no JSON (unless always or schema), a
// json_object answer must be an object, and a client schema that does not
// compile skips the check rather than fail the answer. Schemas may not
// refer to other documents (no file or network access); compiled request
// schemas are cached by their text. Metrics: json_valid, schema_valid.
//
// logprob (default threshold 0.5; skips without log-probabilities):
//
//	metric: mean            mean: exp(mean token logprob), the geometric
//	                        mean token probability; min: exp(lowest
//	                        logprob); margin: 1 - exp(-mean top-1 margin),
//	                        the mean of 1 - p2/p1
//	top_logprobs: 0         alternatives asked for (margin: at least 2,
//	                        default 2)
//	min_tokens: 8           fewer tokens skip
//
// A mean logprob of -0.6 is a score of 0.55. Metrics: tokens,
// mean_logprob, min_logprob, margin.
//
// consistency (default threshold 0.5; score: the share of samples whose
// final answer agrees with the judged answer's):
//
//	samples: 4              k more samples (1-16)
//	model: (answering)      the catalog model to sample
//	sampling: auto          n: one call with n=k; parallel: k calls; auto:
//	                        n for openai and gemini models (or labels
//	                        supports_n: "true"), else parallel, and
//	                        parallel when n is refused
//	inline: false           ask for the samples with the answer (n=k+1,
//	                        see Preparer)
//	temperature: 0.7        for the samples when the request had none or 0
//	max_tokens: (request's)
//	compare: final          final: answer.Final normalised answers (the
//	                        number after ####, \boxed{}, "the answer is",
//	                        else the last number; choice letters A-D; else
//	                        the last line); embedding: cosine of the
//	                        embeddings of embedding_model at or above
//	                        similarity (default 0.9)
//
// Samples go through the executor (their cost is in the trace); up to
// half of them may fail. Metrics: samples, agree, majority_share,
// mean_similarity.
//
// validator (default threshold 1; score: the lowest of its checks' scores;
// skips when none applies):
//
//	arithmetic: {tolerance: 0.001}   every "a op b = c" step recomputed,
//	                        GSM8K's <<a*b=c>> annotations and plain text
//	                        alike (answer.CheckArithmetic); score 1 -
//	                        wrong/steps
//	final_answer: {pattern: REGEX}   the final answer stated: matching
//	                        pattern, or by default after ####, in
//	                        \boxed{} or after "the answer is"; score 1/0
//	code: {languages: [go, json], commands: {LANG: {...}}, require: false,
//	       max_concurrent: 2}       fenced blocks in those languages parse
//	                        (Go with go/parser, as a file, declarations or
//	                        statements; JSON), others pass a command; score:
//	                        the share of checked blocks that pass; require
//	                        fails an answer without a checkable block
//
// A command ({command: [python3, -m, py_compile, "{file}"], suffix: .py,
// timeout: 10s, memory_mb: 1024, network: deny, pass_env: []}) runs in a
// Sandbox: the code in a temporary file whose path replaces {file} (or on
// standard input), a time limit on the wall clock and CPU, an address-space
// limit (ulimit -v), a new empty network namespace, and an environment of
// PATH, HOME, LANG and TMPDIR only. Where no network namespace can be
// made (not Linux, no root and no user namespaces) the command is not run
// and the check errs (ErrNoIsolation) unless network: allow. A command
// not found on PATH is a config error. Metrics: arithmetic_steps,
// arithmetic_wrong, final_answer, code_blocks, code_failed.
//
// similarity (default threshold 0.8; score: the highest cosine similarity
// to a reference):
//
//	model: EMBEDDINGS_MODEL  required, with the embeddings capability
//	references: [...]        known-good answers
//	file: refs.txt           more: one per line, or JSON lines {"text": ...}
//	                         (.jsonl), relative to the config file
//
// The references are embedded once, on first use. Metrics: max_cosine,
// reference.
//
// judge (default threshold 2/3, a rating of 7; score (rating-1)/9):
//
//	model: MODEL            required, the judge
//	rubric: "..."           the judge's system prompt (or rubric_file);
//	                        default judge.DefaultRubric: judge correctness
//	                        first, then helpfulness, relevance, depth and
//	                        clarity, and answer "Rating: [[N]]"
//	max_tokens: 512         temperature: 0
//
// The judge sees the conversation, the question and the answer; the
// rating is the last [[N]], else "Rating: N" / "Score: N", else "N/10",
// in [1,10]. A reply without one is an error. Metrics: rating.
//
// learned (default threshold 0.5; score: the model's P(accept)):
//
//	model: FILE             a model file of kind gate (sextant train --kind
//	                        gate), relative to the config file, or
//	                        builtin:NAME
//
// The model reads learned.AnswerExample of the answer: its words, its
// measured features (length, hedges, refusal, arithmetic steps and
// errors, a stated final answer, finish reason, logprob statistics) and
// the request's features. learned.RecordSamples builds training samples
// from recorded data: the cheap model's answers, accepted when no recorded
// answer to the record is better (label best) or when correct (label
// correct). Metrics: p_accept.
//
// # Metrics
//
// Gates export no metrics of their own; every verdict is in the trace.
//
// # Failure behaviour
//
// Config errors are *conf.Error values naming the path. At run time a
// gate never panics on any answer; what it cannot judge it skips, what
// stops it from running (a failed judge, sample or embedding call, a
// sandbox that cannot isolate) is an error that Run turns into a failed
// verdict. Every gate returns when ctx ends.
//
// # Example
//
//	routes:
//	  auto:
//	    cascade:
//	      tiers: [mixtral, gpt-4]
//	      gates:
//	        - structure: {min_chars: 20, max_hedges: 3}
//	        - validator: {arithmetic: {}, final_answer: {}}
//	        - learned: {model: models/gsm8k-gate.json, threshold: {default: 0.5, tiers: {premium: 0.7}, peak: 0.3, peak_load: 200}}
//
// Speed (BenchmarkStructure, BenchmarkJSONSchema, BenchmarkLogprob,
// BenchmarkValidatorArithmeticGo, BenchmarkLearned, BenchmarkCombination,
// on a 500-token answer): each under 200 µs; judge, consistency,
// similarity and command validators cost a model call or a process.
package gate
