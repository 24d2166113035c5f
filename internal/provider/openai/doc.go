// Package openai is the "openai" provider: an adapter for any server that
// speaks OpenAI's Chat Completions API, such as OpenAI itself, vLLM, Ollama,
// the llama.cpp server, Groq, Together, DeepSeek, Mistral and OpenRouter.
//
// # What it does
//
// Each call is one POST to {base_url}/chat/completions. The normalized
// request is translated field by field: messages (string content, or an
// array of text and image_url parts when the message has parts; null
// content for an assistant turn that only calls tools), tools, tool_choice
// (passed through as sent), parallel_tool_calls, response_format (with the
// json_schema object passed through), logprobs, top_logprobs, n, stop, the
// token limit, sampling parameters, seed and user. The model field is the
// deployment's upstream name. Fields that were not set are not sent.
//
// Responses are translated back, including refusals, tool calls, per-token
// logprobs, system_fingerprint and usage with cached prompt tokens
// (prompt_tokens_details.cached_tokens, or DeepSeek's
// prompt_cache_hit_tokens) and reasoning tokens
// (completion_tokens_details.reasoning_tokens). Null content reads as "".
//
// Streams are read as server-sent events. Every streamed request sends
// stream_options.include_usage, whether or not the client asked for usage,
// because Sextant needs the upstream's count to charge the call. The
// usage chunk (no choices) reaches the caller of Recv either way; the
// client edge drops it for clients that did not ask for usage.
//
// The API key, when set, is sent as "Authorization: Bearer <key>"; with no
// key no Authorization header is sent (local servers).
//
// Embeddings (provider.Embedder) are one POST to {base_url}/embeddings with
// the model, the inputs as a list of strings, dimensions when set, user and
// encoding_format "float". Vectors are placed by each item's index, not by
// its place in the list (list order is used only when no item has an
// index); usage.prompt_tokens is the input token count. A server that
// answers with base64 vectors (little-endian float32) is understood too.
// Embedding responses may be up to 256 MiB, as 2,048 vectors of 3,072
// floats written as JSON text come to about 130 MB.
//
// # Config
//
// base_url defaults to https://api.openai.com/v1. The options block is
// decoded strictly; unknown fields are an error.
//
//	headers: {}              # extra request headers; values are treated as secrets
//	organization: ""         # sent as OpenAI-Organization
//	project: ""              # sent as OpenAI-Project
//	max_tokens_field: max_tokens   # or max_completion_tokens
//	send_metadata: false     # forward the request's metadata map
//	stream_usage: true       # send stream_options.include_usage on streams
//
// max_tokens_field defaults to max_tokens because that is the field every
// compatible server knows; older versions of vLLM, Ollama and the llama.cpp
// server ignore max_completion_tokens, which silently lifts the limit.
// OpenAI has deprecated
// max_tokens in favour of max_completion_tokens and its reasoning models
// (o1, o3 and later) reject max_tokens, so set max_completion_tokens for
// those.
//
// send_metadata defaults to false because most compatible servers reject
// an unknown metadata field, and OpenAI uses it only for stored
// completions.
//
// stream_usage: false is for servers that reject stream_options; streams
// from them report no usage unless the server sends it anyway, and the
// executor then estimates tokens.
//
// headers are set after the adapter's own headers, so they can replace
// Authorization (for a proxy with its own scheme) or User-Agent; they
// cannot set Content-Type or Content-Length.
//
// # Metrics
//
// The adapter records none itself; the executor records every attempt's
// latency, tokens, cost and failure class.
//
// # Failure behaviour
//
// Every error is an *llm.Error with Model set to the catalog name, Status
// set to the upstream's HTTP status (the gateway decides what the client
// sees), and Cause an *UpstreamError with the upstream's type, code and
// param. The message is the upstream's, with the API key removed should the
// upstream echo it.
//
//   - Non-2xx statuses are classified by llm.StatusClass: 401/403 auth, 402
//     quota, 429 rate limit, 408/409/5xx transient, other 4xx the caller's
//     fault. A 429 with code or type insufficient_quota is a quota error
//     (retrying is useless); context_length_exceeded is the caller's fault.
//     retry-after-ms, or Retry-After in seconds or as an HTTP date, sets
//     RetryAfter (capped at 24h).
//   - Error bodies may be OpenAI's {"error": {...}}, {"error": "text"}, a
//     bare {"message", "type", "code"} object, FastAPI's {"detail": ...}, or
//     plain text; an HTML page is kept in the cause, not the message.
//   - A connection failure is transient (502, upstream_unreachable). A
//     canceled context is ClassCanceled (499, client_closed_request); an
//     expired deadline is transient (504, timeout_error, upstream_timeout).
//   - A 2xx body that does not decode is transient (502,
//     bad_upstream_response); so is a 200 with an error object, which is
//     classified like an in-stream error.
//   - In a stream, data: [DONE] ends the stream with io.EOF. A body that
//     ends without [DONE], or breaks mid-stream, is transient (502,
//     stream_truncated), never io.EOF. An error event ({"error": {...}})
//     is classified by its numeric code when it has one, otherwise by its
//     type and code, otherwise as transient.
//   - Closing a stream cancels the upstream request and closes the
//     connection; Close is idempotent.
//   - Embeddings fail as chat calls do. In addition, an answer that does
//     not hold exactly one vector per input (each index 0..n-1 once, every
//     vector of one nonzero length, all values finite) is transient (502,
//     bad_upstream_response). Vectors of another length than the dimensions
//     asked for mean the server ignored the parameter: 400
//     unsupported_parameter, llm.ClassUnsupported, so the executor fails
//     over without retrying. An empty input list is the caller's fault and
//     sends nothing.
//
// # Example
//
//	models:
//	  - name: gpt-4o
//	    provider: openai
//	    upstream: gpt-4o-2024-08-06
//	    api_key_env: OPENAI_API_KEY
//	  - name: o3-mini
//	    provider: openai
//	    upstream: o3-mini
//	    api_key_env: OPENAI_API_KEY
//	    options:
//	      max_tokens_field: max_completion_tokens
//	      organization: org-example
//	  - name: local-llama
//	    provider: openai
//	    upstream: meta-llama/Llama-3.1-8B-Instruct
//	    base_url: http://localhost:8000/v1   # vLLM; no key
//	    options:
//	      stream_usage: false
//	  - name: embed-small
//	    provider: openai
//	    upstream: text-embedding-3-small
//	    api_key_env: OPENAI_API_KEY
//	    capabilities: [embeddings]
package openai
