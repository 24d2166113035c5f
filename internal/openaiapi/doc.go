// Package openaiapi is the client-facing codec of the OpenAI Chat
// Completions wire format: it decodes request bodies into llm.Request and
// encodes llm.Response, llm.Chunk and *llm.Error into the bodies, stream
// events and error envelopes that OpenAI's SDKs parse. It holds pure
// functions only; HTTP, SSE framing, body size limits and the choice of
// status codes belong to the server.
//
// # Decoding
//
// DecodeChatRequest is strict about JSON and about the parameters it
// understands, and lenient about parameters it does not:
//
//   - The body must be one JSON object, valid UTF-8, with no trailing data
//     and no object that names a member twice (at any depth). Duplicate keys
//     are rejected rather than resolved because parsers disagree on which
//     one wins, and a gateway that reads one value while an upstream or a
//     policy reads the other is a smuggling hazard. The strictness comes
//     from the encoding/json/v2 upstream (github.com/go-json-experiment/json),
//     whose decoder rejects duplicate names while it decodes, so there is no
//     separate token pre-pass and the error carries a JSON pointer that
//     becomes the error's Param.
//   - Unknown members are ignored at every level: SDKs add parameters
//     faster than gateways learn them (service_tier, reasoning_effort,
//     logit_bias, modalities, store, prediction ...), and rejecting them
//     would break clients on every SDK release. They are not carried into
//     llm.Request, which has no place for them.
//   - null is the same as absent for every optional parameter.
//   - Integer parameters accept any JSON number with an integral value
//     (256, 256.0, 2.56e2), as JSON Schema does; Python clients that compute
//     a limit as a float send "256.0".
//   - max_tokens is the deprecated alias of max_completion_tokens. Either
//     sets llm.Request.MaxTokens. When both are sent they must be equal;
//     different values are rejected (code invalid_parameter_combination,
//     param max_tokens) because either choice would silently ignore what the
//     client asked for. OpenAI rejects both-set even when equal; Sextant
//     accepts that, since it is unambiguous.
//   - Legacy function calling (top-level functions and function_call, an
//     assistant message's function_call, role "function") is rejected with
//     code unsupported_parameter and a message that names the tools
//     equivalent. Translating it would be lossy: "function" role messages
//     carry no call id to pair them with the call they answer.
//   - Content: system, developer and tool messages take a string or text
//     parts; user messages take text and image_url parts; assistant
//     messages take text and refusal parts, and may omit content (or send
//     null) when they carry tool_calls or a refusal. input_audio and file
//     parts, "custom" tools and "allowed_tools"/"custom" tool choices are
//     valid for OpenAI but cannot be expressed in llm.Request, so they are
//     rejected with code unsupported_value instead of being dropped. The
//     text of text parts is concatenated without separator into
//     Message.Content; Message.Parts keeps the text and image parts.
//   - An assistant tool call may omit type (it can only be "function") and
//     arguments (read as "").
//   - tool_choice is kept in a canonical form ("none", "auto", "required",
//     or {"type":"function","function":{"name":...}}); "required" and a
//     named function need tools, and the function must be declared. An
//     empty tools array is the same as none. Tool names must be unique.
//   - stop sequences must be non-empty strings, at most 4.
//   - stream_options is rejected unless stream is true;
//     stream_options.include_usage becomes llm.Request.IncludeUsage.
//   - metadata allows 16 keys, keys of at most 64 and values of at most 512
//     characters (Unicode code points).
//
// Errors are *llm.Error values made with llm.Errorf (400,
// invalid_request_error, class caller) with Param set to a path such as
// "messages[2].content[0].image_url.url" and Code set to one of the Code
// constants.
//
// # Encoding
//
// EncodeChatResponse and EncodeChunk write the exact member order and
// null-versus-absent choices of OpenAI's responses, so that strict clients
// and the official SDKs read them unchanged; see their docs for the rules.
// EncodeError and StreamErrorEvent write the {"error": {...}} envelope with
// only the public parts of an *llm.Error. Invalid UTF-8 coming from an
// upstream is replaced with U+FFFD instead of failing the encode.
package openaiapi
