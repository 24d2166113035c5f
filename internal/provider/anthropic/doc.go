// Package anthropic is the "anthropic" provider: an adapter for Anthropic's
// Messages API (Claude models), and for proxies that speak it.
//
// # What it does
//
// Each call is one POST to {base_url}/v1/messages with the headers
// anthropic-version, content-type: application/json, anthropic-beta (when
// the beta option lists any) and x-api-key (only when the model has a key).
// The normalized request is translated as follows.
//
//   - system and developer messages, wherever they stand, become the
//     top-level system field: one text block per message, in order. Empty
//     ones are dropped; they may hold only text.
//   - user and assistant messages become turns whose content is always an
//     array of blocks. Consecutive turns of one role are merged into one,
//     since the API requires the roles to alternate; a turn left with no
//     content (empty text) is dropped, since the API rejects it. The
//     message name field has no equivalent and is not sent.
//   - Image parts become image blocks: a base64 data URL
//     (data:image/png;base64,...) a base64 source, an http(s) URL a url
//     source. detail is not sent.
//   - An assistant's tool calls become tool_use blocks after its text, with
//     the arguments parsed into the input object (empty arguments read as
//     {}). An assistant refusal with no content is sent as its text.
//   - tool messages become tool_result blocks (tool_use_id = tool_call_id)
//     in a user turn, so a run of tool results and the user text after them
//     merge into one turn, results first, as the API requires.
//   - tools become {name, description, input_schema}; a tool without
//     parameters gets an empty object schema. strict is not sent.
//   - tool_choice: "auto" → auto, "none" → none, "required" → any, a named
//     function → tool. parallel_tool_calls: false sets
//     disable_parallel_tool_use (on an auto choice when none was given).
//     Without tools no tool_choice is sent.
//   - max_tokens is the request's, else default_max_tokens (the API
//     requires it). temperature above 1 is sent as 1: the API's range is
//     0..1 where OpenAI's is 0..2, and 1 is the most random the model can
//     be, so the request is served rather than failed. top_p is sent only
//     when temperature is not set: recent models reject the two together
//     (older ones accepted both), and temperature is the knob clients
//     mean. stop becomes stop_sequences (empty strings dropped). user
//     becomes metadata.user_id. presence_penalty, frequency_penalty, seed
//     and the metadata map have no equivalent and are not sent.
//
// Responses are translated back: text blocks are concatenated into the
// message content, tool_use blocks become tool calls whose arguments are
// the input as compact JSON text, and thinking, redacted_thinking, server
// tool and unknown blocks are skipped. stop_reason maps to finish_reason:
// end_turn and stop_sequence → stop, max_tokens and
// model_context_window_exceeded → length, tool_use → tool_calls, refusal →
// content_filter, pause_turn → stop (the turn is complete as far as the
// caller can act on it; continuing a paused server-tool turn is not
// supported), and any other reason → stop. The API sends no creation time,
// so created is the time the adapter read the response.
//
// Usage: Anthropic's input_tokens counts only the input that was neither
// read from nor written to the prompt cache, so prompt_tokens is
// input_tokens +
// cache_read_input_tokens + cache_creation_input_tokens, cached_tokens is
// cache_read_input_tokens (charged at the model's cached price), and
// completion_tokens is output_tokens (reasoning_tokens is
// output_tokens_details.thinking_tokens where sent), and
// cache_creation_input_tokens are the cache-write tokens, charged at the
// model's price.cache_write (set it to 1.25x input for the 5-minute cache,
// 2x for the 1-hour cache).
//
// Streams are read as server-sent events and become chunks:
// message_start → a chunk with the assistant role (its usage is kept);
// content_block_start of a tool_use block → a tool call delta with its
// index among the message's tool calls, id and name; text_delta → a
// content delta; input_json_delta → an arguments fragment of that tool
// call (a tool call that got no input_json_delta gets its start input, {}
// at least, when its block stops, so its arguments always parse);
// message_delta → a chunk with the finish reason (its cumulative usage
// replaces what was kept); message_stop → a final usage chunk (no
// choices), whether or not the client asked for usage, then io.EOF. ping,
// content_block_stop, thinking, signature and citation deltas and unknown
// event types are skipped, as the API's versioning policy asks. The
// connection is released at message_stop.
//
// Not supported, failing at once with a 400 *llm.Error of class
// ClassUnsupported and code unsupported_parameter, so that a fallback moves
// on to a model that can serve the request without charging this one's
// health: n > 1, logprobs and top_logprobs, response_format json_object or
// json_schema, stop sequences made only of whitespace (the API rejects
// them, and dropping one would change where the output ends), tool types
// other than function, tool_choice types other than a function, content
// parts other than text and images, and images other than JPEG, PNG, GIF
// and WebP.
//
// # Config
//
// base_url defaults to https://api.anthropic.com (the adapter appends
// /v1/messages). The options block is decoded strictly; unknown fields are
// an error.
//
//	version: "2023-06-01"    # the anthropic-version header
//	beta: []                 # beta names, sent comma-joined as anthropic-beta
//	headers: {}              # extra request headers; values are treated as secrets
//	default_max_tokens: 4096 # max_tokens when the request sets none
//
// headers are set after the adapter's own, so they can replace x-api-key
// (for a proxy with its own scheme, e.g. Authorization); they cannot set
// Content-Type, Content-Length, anthropic-version or anthropic-beta (use
// version and beta).
//
// # Metrics
//
// The adapter records none itself; the executor records every attempt's
// latency, tokens, cost and failure class.
//
// # Failure behaviour
//
// Every error is an *llm.Error with Model set to the catalog name, Status
// set to the upstream's HTTP status, Code set to the upstream's error type
// (overloaded_error, rate_limit_error, ...) or to one of the adapter's
// codes, and Cause an *UpstreamError with the upstream's type, message and
// request id. The message is the upstream's, with the API key removed
// should the upstream echo it.
//
//   - Error bodies are {"type": "error", "error": {"type", "message"},
//     "request_id"}; {"error": {...}} and plain text are read too, and an
//     HTML page is kept in the cause, not the message.
//   - Non-2xx statuses are classified by llm.StatusClass: 401/403 auth,
//     402 quota, 404 unsupported (the deployment, not the caller, is
//     wrong), 429 rate limit, 408/409/5xx transient, other 4xx (400, 413
//     request_too_large) the caller's fault. 529 overloaded_error is
//     transient. billing_error, and a 429 whose details.error_code is
//     enforced_spend_limit_reached (the monthly spend cap), are quota
//     errors: retrying is useless, another provider may serve. A
//     spend limit the organization set itself comes as a 400
//     invalid_request_error that only its message tells apart, so it stays
//     a caller fault. Retry-After, in seconds or as an HTTP date, sets
//     RetryAfter (capped at 24h).
//   - A connection failure is transient (502, upstream_unreachable). A
//     canceled context is ClassCanceled (499, client_closed_request); an
//     expired deadline is transient (504, timeout_error, upstream_timeout).
//   - A 2xx body that is not a message is transient (502,
//     bad_upstream_response); a 2xx error object is classified like an
//     error event.
//   - An error event in a stream has no status of its own: the status its
//     type documents stands in (overloaded_error 529 transient,
//     rate_limit_error 429, api_error 500, invalid_request_error 400, ...;
//     an unknown type 502 transient) and the class follows as above.
//   - A stream that ends, or breaks, before message_stop is transient
//     (502, stream_truncated), never io.EOF. Closing a stream cancels the
//     upstream request and closes the connection; Close is idempotent.
//   - Malformed requests (tool call arguments that are not a JSON object,
//     a tool message without tool_call_id, a tool call without id, an
//     image URL that is neither http(s) nor a base64 data URL, an unknown
//     tool_choice, max_tokens below 1) are the caller's fault (400
//     invalid_request_error) and never reach the upstream.
//
// # Example
//
//	models:
//	  - name: claude-sonnet
//	    provider: anthropic
//	    upstream: claude-sonnet-4-5
//	    api_key_env: ANTHROPIC_API_KEY
//	    price: {input: 3, output: 15, cached: 0.3}
//	    context_window: 200000
//	    capabilities: [tools, vision, streaming]
//	    options:
//	      default_max_tokens: 8192
//	  - name: claude-via-proxy
//	    provider: anthropic
//	    upstream: claude-haiku-4-5
//	    base_url: https://llm-proxy.internal.example
//	    options:
//	      beta: [token-efficient-tools-2025-02-19]
//	      headers:
//	        Authorization: Bearer proxy-token
package anthropic
