// Package gemini is the "gemini" provider: an adapter for Google's Gemini
// API (generativelanguage, v1beta), for chat, streaming and embeddings.
//
// # What it does
//
// A chat is one POST to {base_url}/models/{upstream}:generateContent; a
// stream is one POST to :streamGenerateContent?alt=sse; embeddings go to
// :batchEmbedContents. An upstream that already names its collection
// ("models/gemini-2.5-pro", "tunedModels/my-model") is used as given. The
// API key is sent in the x-goog-api-key header, never in the URL, so that
// it cannot reach a log of URLs; with no key no header is sent.
//
// The normalized request is translated as follows. Fields that were not set
// are not sent.
//
//   - system and developer messages, wherever they stand, become the
//     systemInstruction, in order. A request of system text alone is sent
//     as the user's turn, since the API needs at least one content.
//   - user messages become role "user" contents; assistant messages role
//     "model". Consecutive turns of the same role are merged into one
//     content, as the API wants user and model turns to alternate. Empty
//     text is dropped (the API refuses a part with no data).
//   - an assistant's tool calls become functionCall parts after its text,
//     with the arguments parsed as a JSON object ("" is {}). A refusal is
//     sent as the turn's text.
//   - tool messages become functionResponse parts of a user content; the
//     function's name is looked up by tool_call_id in the earlier assistant
//     messages (the message's name is the fallback). The response is the
//     tool output when it is a JSON object, otherwise {"result": "<text>"}.
//     All responses to one parallel call land in one content, which holds
//     nothing else: text that follows them starts a user content of its
//     own, as the API refuses a function-response content with other
//     parts.
//   - images must be data: URLs and become inlineData parts; a link to an
//     image is unsupported, since the API does not fetch URLs.
//   - tools become one tools entry of functionDeclarations. Their JSON
//     Schema parameters are rewritten into the API's Schema, a subset of
//     OpenAPI 3.0 that rejects unknown keys: additionalProperties, $schema,
//     $id, $comment, examples and other keys the Schema lacks are dropped,
//     local $refs are inlined, allOf is merged, oneOf becomes anyOf, "null"
//     types become nullable, const becomes enum, non-string enums and
//     formats the API does not know are dropped, and type names are
//     upper-cased. Parameters of an object with no properties are left out
//     (the API rejects an empty OBJECT). A recursive or remote $ref is
//     unsupported. See schema.go for the whole list.
//   - tool_choice "auto", "none" and "required" map to functionCallingConfig
//     mode AUTO, NONE and ANY; a named function to ANY with
//     allowedFunctionNames; the allowed_tools form to ANY with its names
//     ("required") or AUTO ("auto", names dropped: AUTO cannot be limited).
//     parallel_tool_calls has no equivalent and is ignored.
//   - response_format json_object sets responseMimeType application/json;
//     json_schema also sends its schema, as given, in responseJsonSchema,
//     which takes JSON Schema (Gemini 2.5 and later) but supports only a
//     subset of its keywords; the schema is not rewritten, so a model that
//     refuses a keyword answers 400.
//   - n → candidateCount, max_tokens → maxOutputTokens, stop →
//     stopSequences, temperature, top_p → topP, seed (folded into 32 bits
//     when wider), presence_penalty and frequency_penalty (only when
//     non-zero: zero is the neutral value and some models reject
//     penalties), logprobs → responseLogprobs with top_logprobs → logprobs.
//     user and metadata are not sent.
//
// Responses are translated back. Each candidate is a choice: its text parts
// are concatenated (thought parts are left out, as are parts of other
// kinds) and its functionCall parts become tool calls with arguments as
// JSON text. finishReason maps STOP to stop, or tool_calls when the
// candidate called a function; MAX_TOKENS to length; SAFETY, RECITATION,
// BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY and
// IMAGE_PROHIBITED_CONTENT to content_filter; and everything else
// (MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, LANGUAGE, OTHER, unknown
// reasons) to stop, since the candidate did end and what it holds is all
// there is. A prompt the API blocked (promptFeedback.blockReason, no
// candidates) is an answer, not an error: one choice with empty content and
// finish_reason content_filter. logprobsResult becomes per-token logprobs;
// responseId is the id and modelVersion the model. Usage comes from
// usageMetadata: prompt tokens (plus toolUsePromptTokenCount), completion
// tokens = candidates + thoughts, cachedContentTokenCount as cached tokens
// and thoughtsTokenCount as reasoning tokens.
//
// Tool call ids. The API identifies calls by name and order, so the adapter
// makes ids "call_<n>", n counting the calls of a choice from 0. Gemini 3
// (and thinking 2.5 models) attach a thoughtSignature to function calls and
// Gemini 3 refuses a follow-up request whose replayed calls lack it. The
// adapter therefore folds the signature into the id
// ("call_<n>_ts_<signature in unpadded URL-safe base64>", still
// [A-Za-z0-9_-]) and restores it when the client sends the id back. Calls
// that carry no signature (a conversation begun on another provider) get
// the API's documented placeholder "skip_thought_signature_validator" on
// the first call of each assistant turn, unless
// thought_signature_fallback is false.
//
// Streams are read as server-sent events, each a whole
// GenerateContentResponse. Text and function calls become deltas (the
// first delta of each choice carries the role), a finishReason becomes a
// separate finish chunk, and the last usageMetadata becomes a usage chunk
// (no choices) once the body ends. The API has no end marker: the stream
// ends with io.EOF when the body ends after every candidate has finished
// (or the prompt was blocked).
//
// Embeddings send one request per input with outputDimensionality from
// dimensions, at most 100 to a call (longer inputs take several calls, in
// order). The API reports no usage for embeddings, so Usage is zero and the
// executor counts tokens itself.
//
// # Config
//
// base_url defaults to https://generativelanguage.googleapis.com/v1beta.
// The options block is decoded strictly; unknown fields are an error.
//
//	headers: {}            # extra request headers; values are treated as secrets
//	safety_settings: []    # sent as safetySettings: [{category, threshold}]
//	api_version: v1beta    # version of the default base URL
//	thought_signature_fallback: true
//
// safety_settings are passed through unchanged, so that new categories and
// thresholds need no release; each category and threshold must be spelled
// as an enum name (HARM_CATEGORY_HATE_SPEECH, BLOCK_ONLY_HIGH), which
// catches a lower-case or empty value at load instead of failing every
// request.
//
// api_version changes only the default base URL; with base_url set it is an
// error (put the version in base_url).
//
// headers are set after the adapter's own headers, so they can replace
// x-goog-api-key (for a proxy with its own scheme) or User-Agent, or add
// X-Goog-User-Project; they cannot set Content-Type or Content-Length.
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
// sees), Code the lower-cased ErrorInfo reason or google.rpc status
// ("resource_exhausted", "api_key_invalid"), and Cause an *UpstreamError.
// The message is the upstream's, with the API key removed should the
// upstream echo it.
//
//   - Non-2xx statuses are classified by llm.StatusClass, refined by the
//     body: a 400 with reason API_KEY_INVALID, PERMISSION_DENIED (403) and
//     UNAUTHENTICATED (401) are auth errors; FAILED_PRECONDITION (billing
//     not enabled, free tier not offered in the region) is a quota error;
//     RESOURCE_EXHAUSTED (429) is a rate limit, or a quota error when a
//     QuotaFailure names a per-day quota (waiting seconds will not help);
//     NOT_FOUND (404, the model or API version does not exist) is
//     unsupported, so the executor fails over; INTERNAL, UNAVAILABLE and
//     DEADLINE_EXCEEDED (5xx) are transient; other 4xx are the caller's
//     fault. RetryAfter is the Retry-After header (seconds or an HTTP date)
//     or else the RetryInfo retryDelay ("30s"), capped at 24h.
//   - A connection failure is transient (502, upstream_unreachable). A
//     canceled context is ClassCanceled (499, client_closed_request); an
//     expired deadline is transient (504, timeout_error, upstream_timeout).
//   - A 2xx body that does not decode, or has neither candidates nor a
//     block reason, is transient (502, bad_upstream_response). An error
//     object in a 2xx body or a stream event is classified by its code,
//     else its status name, else as transient.
//   - A stream whose body ends before every candidate has a finishReason,
//     or breaks, is transient (502, stream_truncated), never io.EOF.
//     Closing a stream cancels the upstream request and closes the
//     connection; Close is idempotent.
//   - Request content the API cannot carry is refused before anything is
//     sent: a mistake of the caller's (an unknown tool_call_id, tool
//     arguments that are not an object, an unknown role or tool_choice) as
//     a caller fault; what Gemini lacks but another model may have (image
//     links, audio parts, other tool types, recursive schemas, other
//     response formats) as ClassUnsupported with code unsupported_content,
//     so the executor fails over at once.
//
// # Example
//
//	models:
//	  - name: gemini-flash
//	    provider: gemini
//	    upstream: gemini-2.5-flash
//	    api_key_env: GEMINI_API_KEY
//	  - name: gemini-pro
//	    provider: gemini
//	    upstream: gemini-2.5-pro
//	    api_key_env: GEMINI_API_KEY
//	    options:
//	      safety_settings:
//	        - {category: HARM_CATEGORY_DANGEROUS_CONTENT, threshold: BLOCK_ONLY_HIGH}
//	  - name: gemini-embed
//	    provider: gemini
//	    upstream: gemini-embedding-001
//	    api_key_env: GEMINI_API_KEY
package gemini
