// Package upstream is the HTTP mechanism the wire adapters (openai,
// anthropic, gemini) share: sending a JSON POST with the adapter's headers,
// classifying transport failures, cancellation and deadlines as
// *llm.Error, reading bounded bodies, parsing Retry-After and the vendors'
// rate-limit headers (OpenAIRateLimit, AnthropicRateLimit), keeping the API
// key out of upstream text, and a streamed body whose Close cancels the
// request.
//
// Policy stays in the adapters: how an error body is parsed and which
// failure class it gets, what headers carry the credentials, and how a
// stream's events translate. This package never looks inside a body.
package upstream
