// Package sim is the "sim" provider: simulated models for demos, load tests
// and fault-injection tests. It needs no network and no data, is seeded and
// deterministic, and labels its answers "sim" (provider.Labeler).
//
// # What it does
//
// A sim answers every request with text generated from the prompt: an echo
// of the last user message's first words followed by sentences of filler
// words, exactly the drawn number of tokens long (cl100k_base) and ending
// with a full stop where the cut allows, or with the rendered reply template
// when one is set. With call_tools on it answers
// requests that offer tools with a call (see below). When the request asks
// for logprobs, every token-sized piece carries a plausible log-probability
// (mostly near 0, an exponential tail below) and, with top_logprobs, that
// many alternatives whose probabilities sum to less than 1. max_tokens cuts
// the answer with finish reason "length"; n > 1 is refused; stop sequences,
// response formats and sampling parameters are ignored. Usage is counted
// with the cl100k_base tokenizer and reported as an upstream reports it.
//
// Latency is a time to first token drawn from ttft and a fixed decoding rate:
// a stream sends the role delta and the first token at TTFT and each later
// token one interval after the one before; Chat returns when the last token
// would have arrived. With realtime off nothing waits (a hang still hangs).
//
// Determinism. Each call draws from two PCG generators (math/rand/v2). The
// content generator is seeded by (seed, upstream name, request content):
// the messages, the tool names and the tool choice, not sampling parameters
// or max_tokens. It decides the answer's length, words and logprobs, so the
// same prompt always gets the same answer. The fault generator is also
// seeded by how many calls with the same content this deployment has served
// before (a per-deployment counter, forgotten after 65,536 distinct
// contents). It decides the outcome, the TTFT, the error status and the
// break point, so a retry of a failed request draws afresh. A fixed sequence
// of requests therefore replays exactly; concurrent identical requests take
// counter values in arrival order.
//
// Embeddings (provider.Embedder). A sim is also a deterministic embedding
// model for tests. Each input becomes a hashed bag of features: its words
// (maximal runs of letters and digits, lowercased) and the character
// trigrams of each word padded with a space, each hashed with FNV-1a mixed
// with the seed and the upstream name into one of the vector's buckets
// with a sign of +1 or -1 (weight 1 for a word, 0.5 for a trigram), and the
// vector is L2-normalised. So identical texts get identical vectors
// (whatever the batch, case or punctuation), texts that share words or
// spellings have a higher cosine similarity than unrelated ones, and two
// sims with another seed or upstream name live in different spaces. A text
// without words gets the vector of a reserved feature. The length is
// embedding_dimensions, or the request's dimensions (1 to 8192) when set.
// Usage is the inputs' cl100k_base token count. The fault rates apply as
// for Chat, drawn from the same fault generator (seeded by the inputs, the
// length and the number of earlier identical calls); stream_break_rate
// does not apply, and in realtime mode Embed answers after one TTFT draw.
//
// Stream counts. Each sim deployment counts its streams by how they
// ended (Sim.Streams, a plain Counts value: Started, Completed, Canceled,
// Failed, and Open for the rest): completed at io.EOF or when closed after
// its last chunk, canceled when closed before it or when its context ended
// under Recv, failed at a simulated break. Tests and benchmarks read them
// to check that a race's losers really stop: every stream a caller stops
// ends canceled, and none stays open once the caller is done.
//
// # Config
//
//	seed               integer seed; default 0.
//	ttft               time to first token: a fixed duration ("200ms"), or
//	                   {p50: 200ms, p99: 800ms}, a log-normal distribution with
//	                   that median and 99th percentile (p99 defaults to p50;
//	                   draws are capped at 10 x p99; at most 1h).
//	                   Default {p50: 200ms, p99: 800ms}.
//	tokens_per_second  decoding rate after the first token, 0.001 to 1e6;
//	                   default 50.
//	output_tokens      answer length in tokens: {min: 20, max: 200}, uniform
//	                   over the range, or one number. Default {min: 20, max: 200}.
//	                   Ignored when reply is set.
//	error_rate         share of calls that fail with HTTP 500 or 503 (half
//	                   each); default 0.
//	rate_limit_rate    share of calls that fail with HTTP 429; default 0.
//	retry_after        the Retry-After of those 429s; default 1s.
//	hang_rate          share of calls that never answer; default 0.
//	stream_break_rate  share of streams that end early; default 0.
//	reply              fixed answer, a Go text/template over .Model (the
//	                   upstream name), .Prompt (the last user message),
//	                   .Summary (its first words) and .Turn (the number of
//	                   user messages); default: generated text.
//	call_tools         answer requests that offer tools with a tool call;
//	                   default false.
//	realtime           wait the modeled latency (default true).
//	embedding_dimensions  length of embedding vectors, 1 to 8192; default 64.
//
// The four rates are shares of one draw, so they must sum to at most 1.
//
// Tool calls. With call_tools on, a request that offers tools gets a call to
// the function its tool_choice names, or else to the first tool, with
// arguments "{}" and finish reason "tool_calls" - unless tool_choice is
// "none" or the conversation ends with a tool result, which get text.
//
// # Failure behaviour
//
// Failures are *llm.Error values, as a real adapter returns them:
//
//   - rate limit: status 429, type rate_limit_error, code
//     "rate_limit_exceeded", llm.ClassRateLimit, RetryAfter = retry_after;
//   - error: status 500 (code "upstream_error") or 503 (code
//     "upstream_overloaded"), type upstream_error, llm.ClassTransient;
//   - hang: the call blocks until its context ends, then fails as below;
//   - stream break (streams only; Chat succeeds): the stream sends the role
//     delta and part of the answer, then Recv fails, when the next chunk was
//     due, with status 502, code "stream_truncated", llm.ClassTransient and
//     no finish chunk or usage.
//
// Rate limits and errors come at once from Chat, ChatStream or Embed,
// before any chunk, as an upstream refuses before its headers. Every wait
// ends with the context: a deadline gives a transient "upstream_timeout"
// error, a cancel a canceled one (llm.ClassCanceled). Closing a stream
// cancels it. Embed refuses an empty input list and dimensions outside 1 to
// 8192 as the caller's fault (400, llm.ClassCaller).
//
// # Example
//
//	models:
//	  - name: fast-small
//	    provider: sim
//	    upstream: sim-small
//	    price: {input: 0.24, output: 0.24}
//	    options:
//	      seed: 7
//	      ttft: {p50: 150ms, p99: 600ms}
//	      tokens_per_second: 90
//	      output_tokens: {min: 30, max: 300}
//	      error_rate: 0.02
//	      rate_limit_rate: 0.05
//	      retry_after: 2s
//	      stream_break_rate: 0.01
//	      call_tools: true
//	  - name: echo
//	    provider: sim
//	    upstream: sim-echo
//	    options: {reply: "You said: {{.Prompt}}", ttft: 50ms}
//	  - name: embed-sim
//	    provider: sim
//	    upstream: sim-embed
//	    capabilities: [embeddings]
//	    options: {embedding_dimensions: 256, ttft: 20ms, error_rate: 0.01}
package sim
