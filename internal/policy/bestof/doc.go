// Package bestof provides the "best_of" policy node: ask every candidate
// at once, wait for their answers, and return the best one.
//
// # What it does
//
// Every candidate (a subtree) is launched at once under its own
// cancelable context. Serve waits until every candidate has answered or
// failed, or until the deadline: at the deadline the candidates still
// running are canceled (their partial usage is recorded once by the
// executor, as for any canceled attempt) and the selection runs over the
// answers in; when none is in yet, the first answer to arrive is taken and
// the rest canceled. A streamed answer is read to its end (package hold)
// and the selected one is replayed to the client, so a streaming client's
// first byte waits for the selection.
//
// Selection (select, required):
//
//	gate    every answer is scored by the gates (package gate) as it
//	        arrives; the highest score wins, ties to the earlier answer.
//	vote    the answers' final answers (answer.Final: after ####, in
//	        \boxed{}, after "the answer is", else the last number or the
//	        last line, normalised) are counted; the earliest answer of the
//	        largest group wins, ties to the group that answered first. An
//	        answer with no final answer is a group of its own.
//	centroid
//	        every answer's text is embedded by the embeddings model of
//	        embedding.model (one batched call through the executor, so its
//	        cost is in the trace); the answer with the highest mean cosine
//	        similarity to the other answers wins (the one closest to the
//	        direction of the normalised centroid), ties to the earlier
//	        answer. A lone answer (deadline) is taken without embedding.
//	        When the embeddings call fails the earliest answer is taken and
//	        the decision says why (data fallback: true, error_class).
//	judge   a judge model rates every answer from 1 to 10 (the judge gate,
//	        package gate/judge: its rubric, prompt and rating parser); the
//	        highest rating wins, ties to the earlier answer. The judge
//	        calls go through the executor, so their cost is in the trace.
//
// Trace: decisions of kind "best_of" at the node's path, with data
// {candidate, index, latency_ms}: select (plus method, answers, and score,
// or votes and final, or for centroid embedding_model, similarity and
// scores: [{candidate, index, similarity}] in arrival order), cancel for a
// candidate stopped by the deadline or the client, error for a failed candidate, none when all failed. Gate
// and judge verdicts are recorded under PATH.candidates[i].
//
// # Config
//
//	best_of:
//	  candidates: [a, b, {fallback: [c, d]}]  # at least two subtrees
//	  select: vote            # gate | vote | judge; required
//	  gates: [...]            # select: gate only; required there
//	  judge: {model: M}       # select: judge only; the judge gate's config
//	                          # (model, rubric or rubric_file, max_tokens,
//	                          # temperature)
//	  deadline: 0             # stop waiting after this long; 0: wait for all
//
// # Metrics
//
// None of its own: attempts, costs and decisions are in the trace.
//
// # Failure behaviour
//
// Config errors are *conf.Error values naming the path. A failed candidate
// is left out of the selection; when every candidate fails Serve returns
// the last error. A gate or judge that fails to run scores the answer as
// a failed verdict (score 0). A failed embeddings call (centroid) selects
// the earliest answer; the attempt is in the trace. When the client's context ends every
// candidate is canceled, Serve waits for them and returns the
// executor-shaped 499 (or 504 on the request deadline); no goroutine or
// stream outlives Serve.
//
// # Example
//
//	routes:
//	  best_of:
//	    best_of:
//	      candidates: [sim-fast, sim-tail, sim-strong]
//	      select: vote
//	      deadline: 3s
//	  best_of_centroid:
//	    best_of:
//	      candidates: [sim-fast, sim-tail, sim-strong]
//	      select: centroid
//	      embedding: {model: sim-embed}
package bestof
