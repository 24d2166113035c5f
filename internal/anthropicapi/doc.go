// Package anthropicapi is the client-facing codec of Anthropic's Messages
// API, so that an application written against an Anthropic SDK can route
// through Sextant: it decodes POST /v1/messages bodies into llm.Request and
// encodes llm.Response, llm.Chunk and *llm.Error into the message objects,
// stream events and error envelopes that Anthropic's SDKs parse. It holds
// pure functions only; HTTP, SSE writing, authentication headers
// (x-api-key, anthropic-version), body size limits and the choice of
// status codes belong to the server.
//
// # Decoding
//
// DecodeMessagesRequest is strict about JSON and about the parameters it
// understands, and lenient about parameters it does not:
//
//   - The body must be one JSON object, valid UTF-8, with no trailing data
//     and no object that names a member twice (at any depth), for the same
//     reason as in the OpenAI codec: parsers disagree on which duplicate
//     wins, and a gateway that reads one value while an upstream reads the
//     other is a smuggling hazard.
//   - Unknown members are ignored at every level. Anthropic rejects them,
//     but its SDKs add parameters (thinking, service_tier, container,
//     output_config, cache_control, citations ...) faster than a gateway
//     learns them. None of them has a place in llm.Request, so they are
//     dropped; in particular thinking budgets and prompt-cache breakpoints
//     have no effect, and output_config.format (structured output) is not
//     enforced, so a client that asked for JSON gets whatever the model
//     writes.
//   - null is the same as absent for every optional parameter. Integer
//     parameters accept any JSON number with an integral value (1024.0).
//   - model, max_tokens (at least 1) and messages (non-empty) are
//     required. Anthropic also accepts max_tokens 0 to pre-warm its prompt
//     cache; a router has no cache to warm, so 0 is rejected.
//   - temperature and top_p must be in [0, 1]. top_k must be an integer of
//     at least 0 and is then ignored: llm.Request has no top_k and OpenAI
//     upstreams have none.
//   - stop_sequences become Stop; each must be a non-empty string.
//   - stream sets Stream and IncludeUsage, since every Anthropic stream
//     reports usage.
//   - metadata.user_id becomes User.
//   - system (a string or text blocks) becomes one leading system message;
//     an empty string or array adds none.
//
// Messages take the roles user and assistant, and also system (text only),
// which the SDK can send; a system message keeps its place. Content is a
// string or an array of blocks. The text of text blocks is concatenated
// without separator into Message.Content, and Message.Parts keeps the text
// and image parts, as llm.Message documents. By block type:
//
//   - text: Content and a text part. citations and cache_control are
//     ignored.
//   - image (user only): an image_url part; a base64 source (media type
//     image/jpeg, image/png, image/gif or image/webp) becomes a data URL
//     "data:<media_type>;base64,<data>", a url source its URL. Files API
//     sources are rejected as unsupported.
//   - tool_use (assistant only): a ToolCall with the block's id and name
//     and the input object as compact JSON text in Arguments.
//   - tool_result (user only): a message of role "tool" with ToolCallID set
//     to tool_use_id and the result's text (a string, or the concatenation
//     of its text blocks) as content. The tool messages of a user message
//     come first, in order, then a user message with the other blocks, if
//     there are any, because OpenAI-style upstreams need tool messages
//     right after the assistant's calls. A result with is_error true gets
//     the prefix "Error: " on its content, since a tool message has no
//     error flag. Images and documents inside a result are rejected as
//     unsupported: a tool message carries text only.
//   - thinking and redacted_thinking (assistant only): dropped. No
//     upstream accepts another model's reasoning back, and only Anthropic
//     can check their signatures.
//   - document, search_result and the blocks of server and MCP tools:
//     rejected with code unsupported_value; translating them would lose
//     what the client asked the model to read.
//
// tools take client tools only: a name (^[a-zA-Z0-9_-]{1,64}$, unique), an
// optional description, an input_schema object and strict; type may be
// absent or "custom". Server tools (a type such as "web_search_20250305"
// or "bash_20250124") are rejected with code unsupported_value: Sextant
// does not run them. tool_choice maps onto llm.Request.ToolChoice as auto
// → "auto", any → "required", tool → {"type":"function","function":
// {"name":...}} (the tool must be declared), none → "none"; any and tool
// need tools. disable_parallel_tool_use true sets ParallelToolCalls to
// false; otherwise ParallelToolCalls is left unset.
//
// Errors are *llm.Error values made with llm.Errorf (400,
// invalid_request_error, class caller) with Code set to one of the Code
// constants and Param set to the path of the fault in Anthropic's dotted
// style ("messages.2.content.0.source.data"); since Anthropic's envelope
// has no param member, the message starts with the same path, as
// Anthropic's own messages do ("max_tokens: Field required").
//
// # Encoding
//
// EncodeMessage writes the "message" object of a non-streamed response;
// StreamEncoder writes the events of a streamed one (see its doc for the
// sequence), framed by Event.Bytes or by any SSE writer that writes Name
// as the event field. Both map finish reasons onto stop reasons (stop →
// end_turn, length → max_tokens, tool_calls → tool_use, content_filter →
// refusal), write usage with input_tokens excluding cached tokens, and map
// ids with MessageID and ToolUseID. Tool call ids pass through unchanged,
// because the client echoes them back in tool_result blocks.
//
// stop_sequence is always null and stop_reason never "stop_sequence":
// llm.Response and llm.Chunk do not say whether, or on which sequence, the
// upstream stopped, and OpenAI-style upstreams report a stop sequence as a
// plain "stop". Logprobs and choices after the first are dropped; Anthropic
// has neither.
//
// EncodeError and StreamEncoder.Error write Anthropic's error envelope
// {"type":"error","error":{"type":...,"message":...}} with only the public
// message of an *llm.Error; ErrorType documents how statuses and types map
// onto Anthropic's error types. Invalid UTF-8 coming from an upstream is
// replaced with U+FFFD instead of failing the encode.
package anthropicapi
