// Package race provides the "race" policy node: query several candidates
// at once, take the first acceptable answer and cancel the rest; with the
// hedge option, send a backup only when the primary is slow.
//
// # What it does
//
// Each candidate is a subtree (a model name, {fallback: [...]}, ...) served
// under its own cancelable context. Candidates launch in config order:
// all at once, or one every stagger. A candidate that fails makes the next
// launch at once, without waiting for the stagger.
//
// Without gates the first answer wins: for a whole response the first
// response, for a stream the first candidate whose first chunk arrives
// (the executor returns a stream at its first chunk); the winner's stream
// is handed to the client live. With gates every answer is judged and the
// first one that passes wins (an answer no gate could judge passes: there
// is no evidence against it). A streamed answer is held back: read to its
// end, judged whole, and replayed to the client (package hold, shared with
// cascade), so a streaming client's first byte waits for the winner's
// whole answer.
//
// As soon as one wins, every other candidate's context is canceled — a
// provider closes its upstream connection when its context ends — and Serve
// waits until each has returned and closes any stream it opened, so no
// goroutine or stream outlives the request. The executor records each
// canceled attempt once, as outcome "canceled", with the usage seen so far
// (a stream's tokens up to the cancel; none for a whole response not yet
// answered) and its cost. The winner's stream keeps its context until the
// client closes it.
//
// If no answer wins (every candidate failed its gates or erred): the
// fallback subtree when one is set (and the best-scoring answer if the
// fallback fails); else the best-scoring answer (ties to the earlier
// arrival); else the last candidate's error.
//
// Caps per request: max_concurrency candidates in flight at once (the
// next launches when one ends without winning), and max_cost_usd: no
// further candidate launches once the trace's cost (every finished attempt
// of the request so far, in flight ones count when they end) reaches it.
//
// Hedging. With hedge, candidates[0] is the primary and the rest are
// backups: a backup launches only when nothing has answered within the
// delay (or when everything launched failed), each further one a delay
// after the previous launch, at most max backups, and only while the
// node's hedge budget allows. The delay is fixed, or p95:
// the primary model's live p95 over the signals window (time to first
// token for a streaming request, latency otherwise), or default_delay when
// the window holds fewer than MinP95Samples attempts or the primary is a
// subtree. The budget is a sliding count over the last 10s of the node's
// requests and hedges: a hedge is sent only when the hedges, it included,
// stay within budget × requests. During an outage every primary is slow,
// but only that share of requests hedge, so the load cannot double. (With
// budget 0.1 the first nine requests of a quiet window cannot hedge. The
// count belongs to the node, so a config reload starts it afresh.)
//
// Trace: decisions of kind "race" at the node's path. win, cancel and
// error carry data {candidate, index, latency_ms} (latency since that
// candidate launched); none carries {candidate, score} of the best answer;
// hedge {candidate, hedge} when a backup launches; "hedge delay"
// {delay_ms} once per hedged request; cap {candidate} when the spend cap or
// hedge budget stops a launch. Gate verdicts are recorded under
// PATH.candidates[i].
//
// # Config
//
//	race:
//	  candidates: [gpt-4o-mini, claude-haiku, {fallback: [a, b]}]  # at least two
//	  stagger: 200ms          # delay between launches; default 0 (all at once)
//	  gates: [...]            # package gate; default none (first answer wins)
//	  max_concurrency: 0      # candidates in flight at once; 0: no limit
//	  max_cost_usd: 0         # stop launching at this spend; 0: no cap
//	  fallback: gpt-4o        # subtree when no answer passes; default none
//	  hedge:                  # optional; excludes stagger
//	    delay: p95            # p95 (default) or a duration like 300ms
//	    default_delay: 1s     # when the p95 is unknown
//	    max: 1                # backups at most, 1..len(candidates)-1
//	    budget: 0.1           # share of requests that may hedge, (0,1]
//
// # Metrics
//
// None of its own: attempts, costs and decisions are in the trace and the
// executor's metrics.
//
// # Failure behaviour
//
// Config errors are *conf.Error values naming the path. A candidate's
// error never fails the race while another candidate may still answer.
// When the client's context ends every candidate is canceled and Serve
// returns the executor-shaped 499 (or 504 on the request deadline).
//
// # Example
//
//	routes:
//	  fast:
//	    race:
//	      candidates: [sim-fast, sim-tail]
//	      stagger: 100ms
//	      gates: [{structure: {min_chars: 20}}]
//	  hedged:
//	    race:
//	      candidates: [sim-tail, sim-fast]
//	      hedge: {delay: p95, max: 1, budget: 0.1}
package race
