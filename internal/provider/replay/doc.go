// Package replay is the "replay" provider: it answers a prompt found in a
// recorded data set (see package dataset) with the answer that a named model
// gave it, at a modeled speed. With it a router can be demonstrated, load
// tested and evaluated against real answers of real models without calling
// them; responses are labeled "replay" (provider.Labeler).
//
// # What it does
//
// The user messages of a request, in order, are matched against the records'
// prompt turns after whitespace normalization; system and developer messages
// and the assistant turns between user turns are ignored. A conversation of
// k user turns that matches the first k turns of a record gets the recorded
// answer to turn k: the first turn of an MT-Bench question gets the first
// answer, the first and second turns together get the second answer (even
// when the assistant turn in between differs from the recorded one).
//
// The response's model is the deployment's upstream name and its id is
// "replay-" plus a hash of the record model, record and turn, so the same
// answer always carries the same id. Usage is counted with the cl100k_base
// tokenizer (prompt: the chat format's per-message overhead included) and
// reported as an upstream reports it, not marked as estimated. max_tokens
// cuts the answer at a token boundary with finish reason "length". n > 1 is
// refused. Tools, response formats, logprobs, stop sequences and sampling
// parameters are ignored: the recorded text is the answer.
//
// Latency is modeled as a time to first token (ttft) and a decoding rate
// (tokens_per_second): a stream sends the role delta and the first token at
// ttft and every later token one interval after the one before; Chat returns
// when the last token would have arrived. Streams split the recorded text
// into token-sized pieces whose concatenation is exactly the recorded text,
// then send a chunk with finish reason "stop" (or "length"), a usage chunk,
// and end with io.EOF. With realtime off nothing waits.
//
// # Config
//
//	dataset            a .jsonl file, or a directory whose *.jsonl files are
//	                   read as one data set, relative to the config file; or
//	                   "builtin:demo", the small slice compiled into the binary.
//	                   Required.
//	record_model       the key under "models" in the records whose answers are
//	                   replayed; default: the model's upstream name. It must
//	                   occur in the data set.
//	ttft               time to first token, e.g. "400ms", at most 1h; default
//	                   300ms.
//	tokens_per_second  decoding rate after the first token, 0.001 to 1e6;
//	                   default 50.
//	realtime           wait the modeled latency (default true); false answers
//	                   at once, as offline evaluation wants.
//
// The data set is read once when the config is loaded; a bad line fails the
// load with its file and line.
//
// # Failure behaviour
//
// A prompt that is not in the data set fails with status 404, type
// not_found_error, code "prompt_not_recorded"; a record without an answer
// text from record_model for that turn (MMLU records carry no texts) fails
// with status 404, code "no_recorded_answer". Both are of class
// llm.ClassUnsupported: never retried, but a fallback goes on to its next
// candidate, so a replayed model can be backed by a live or simulated one. Waits end when the
// context does: a deadline gives a transient "upstream_timeout" error, a
// cancel a canceled one. Closing a stream cancels it.
//
// # Example
//
//	models:
//	  - name: gpt-4
//	    provider: replay
//	    upstream: gpt-4-1106-preview
//	    price: {input: 10, output: 30}
//	    options: {dataset: builtin:demo, ttft: 400ms, tokens_per_second: 40}
//	  - name: mixtral
//	    provider: replay
//	    upstream: mistralai/Mixtral-8x7B-Instruct-v0.1
//	    price: {input: 0.24, output: 0.24}
//	    options: {dataset: builtin:demo, ttft: 200ms, tokens_per_second: 90}
package replay
