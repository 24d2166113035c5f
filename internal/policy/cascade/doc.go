// Package cascade provides the "cascade" policy node: ask the most
// economical model first, judge its answer with quality gates (package
// gate), and escalate to a more capable tier only when the answer fails.
//
// # What it does
//
// Tiers are tried in order, each a subtree (a model, a fallback, any
// kind). After a tier answers, its gates judge the answer: accepted, the
// answer is returned; rejected, the next tier is called. The last tier's
// answer is returned as it is (return: last), or judged too and, when it
// fails, the best-scoring answer seen is returned instead (return: best;
// ties go to the later tier).
//
// An answer is accepted when its combined gate score reaches the cascade's
// threshold, or, without a threshold, when the gates pass it (each gate
// against its own threshold, combined by all, any or weighted). The
// threshold is the cascade's cost–quality knob: 0 accepts every first
// answer, 1 escalates nearly every one; `sextant eval --sweep` walks it.
// Like a gate's, it may adapt to the caller's tier and the current load
// (gate.Threshold: `{default: 0.6, tiers: {premium: 0.8}, peak: 0.4,
// peak_load: 64}`). An answer that no gate could judge (every gate
// skipped) is accepted, as there is no evidence against it. A gate that
// fails to run fails its check, with the error as the reason.
//
// Gates that need more than the text (log-probabilities, several choices)
// prepare the tier's request (gate.Preparer) when the tier is one model;
// a subtree's requests go out as the client sent them. What was added is
// stripped before the answer reaches the client (gate.Strip).
//
// Every tier called is paid for: its attempts, with usage and cost, are
// in the trace through the executor, whether its answer was accepted,
// rejected or cut short. The trace records each gate's verdict (kind
// "gate", see gate.Record) at the tier's path, and one decision per tier
// (kind "cascade"): accept, escalate, reject (the last tier with return:
// best), give up (an error that allows no escalation, or the last tier's
// error) and best (the best answer returned instead), with data {tier,
// model, score, pass, threshold, prefix}.
//
// # Streaming
//
// For a streaming request the last tier streams live (with return: last):
// its stream is returned at its commit point. Every judged tier's stream
// is held back: nothing reaches the client until the gates accept. While
// it arrives, the text so far is checked every check_every characters as
// a partial answer; gates that cannot judge a prefix skip it, and only a
// settled verdict decides early — all fails for good when a child fails
// for good, any passes for good when a child passes for good, anything
// else (and any score compared with the cascade's threshold) only when
// every gate judged. An early reject closes the stream, paying for the
// tokens so far; an early accept replays the held chunks and streams the
// rest live. Otherwise the stream is read to its end and judged whole;
// accepted, its chunks are replayed to the client exactly as they
// arrived, usage chunk last. The executor's stream records usage and cost
// once when it ends or is closed; replaying only reads what was held, so
// nothing is counted twice. The client's first byte comes only after the
// held tier finished (or was accepted early): a cascade trades time to
// first token for cost.
//
// # Config
//
//	cascade:
//	  threshold: 0.5        # optional, in [0,1] or the adaptive mapping
//	  return: last          # last (default) | best
//	  gates: {all: [{structure: {}}, {validator: {}}]}   # default gates of the judged tiers
//	  tiers:
//	    - route: mixtral    # any subtree
//	      gates: {learned: {model: gate.json}}   # this tier's own gates (optional)
//	      check_every: 256  # characters between prefix checks of a stream; 0: whole answers only
//	      name: cheap       # for the trace; default the model or kind
//	    - gpt-4             # a tier may be just its subtree: a model name,
//	                        # {fallback: [gpt-4, claude]}, ...
//
// A tier is a tier block when it is an object with any of route, gates,
// check_every or name; any other value is the tier's subtree.
// At least two tiers. Every judged tier needs gates, its own or the
// cascade's: every tier but the last with return: last, every tier with
// return: best. Gates on the last tier with return: last are an error
// (they would change nothing). See package gate for the gate kinds and
// their combinations.
//
// Offline evaluation sweeps and calibrates `threshold` (package eval/knob).
// Against RouteLLM's strong-call share a cascade counts every escalated
// request as a strong call (it calls both models); its cost share
// includes the cheap tier's calls on every request.
//
// # Metrics
//
// None of its own; every verdict and decision is in the trace.
//
// # Failure behaviour
//
// A config error names its path (routes.r.cascade.tiers[0].gates: required
// for every tier but the last, here or as the cascade's gates). At run
// time a tier's error (after its own retries and fallbacks) escalates when
// its class allows failing over and is recorded; a caller fault stops at
// once with that error. When the last tier fails, the best-scoring
// rejected answer is returned if there is one, else the last error. When
// the context ends the cascade stops at once, closing any stream it holds,
// and returns a 499 (client gone) or 504 (deadline) error.
//
// # Example
//
//	routes:
//	  cascade:
//	    cascade:
//	      threshold: 0.5
//	      tiers:
//	        - route: mixtral
//	          gates: {weighted: {gates: [{gate: {structure: {}}}, {gate: {validator: {}}}]}}
//	        - gpt-4
package cascade
