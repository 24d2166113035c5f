package anthropicapi

import (
	"errors"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sextant-router/sextant/internal/llm"
)

// encodeOptions: invalid UTF-8 from an upstream (a token that splits a
// multi-byte character, say) becomes U+FFFD rather than failing the whole
// response; <, >, & are written as themselves, as Anthropic does; and a nil
// slice is null, so the encoders make every slice that must read [].
var encodeOptions = json.JoinOptions(
	jsontext.AllowInvalidUTF8(true),
	jsontext.EscapeForHTML(false),
	json.FormatNilSliceAsNull(true),
)

// Stop reasons of Anthropic's vocabulary.
const (
	stopEndTurn   = "end_turn"
	stopMaxTokens = "max_tokens"
	stopToolUse   = "tool_use"
	stopRefusal   = "refusal"
)

// The wire* output types fix the member order of Anthropic's responses.

type wireMessageOut struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"` // "message"
	Role         string    `json:"role"` // "assistant"
	Model        string    `json:"model"`
	Content      []any     `json:"content"` // wireTextBlock and wireToolUseBlock
	StopReason   *string   `json:"stop_reason"`
	StopSequence *string   `json:"stop_sequence"` // always null: see doc.go
	Usage        wireUsage `json:"usage"`
}

type wireTextBlock struct {
	Type string `json:"type"` // "text"
	Text string `json:"text"`
}

type wireToolUseBlock struct {
	Type  string         `json:"type"` // "tool_use"
	ID    string         `json:"id"`
	Name  string         `json:"name"`
	Input jsontext.Value `json:"input"`
}

type wireUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// emptyInput is the input of a tool call whose arguments are not a JSON
// object.
var emptyInput = jsontext.Value(`{}`)

// EncodeMessage returns the body of a non-streamed response, an object of
// type "message" as Anthropic writes it:
//
//   - id is MessageID(resp.ID); model is requestModel, or resp.Model when
//     requestModel is empty (the name the client asked for, not the
//     upstream deployment's).
//   - content holds a text block with the first choice's content (and its
//     refusal, if any) when that is not empty, then one tool_use block per
//     tool call. A tool call's input is its arguments when they are a JSON
//     object with no duplicate names, else {}; an empty tool call id
//     becomes ToolUseID(id, i). content is [] when there is nothing.
//   - stop_reason maps the finish reason: stop → end_turn, length →
//     max_tokens, tool_calls → tool_use, content_filter → refusal; an empty
//     or unknown reason is tool_use when there are tool calls, else
//     end_turn. stop_sequence is always null (see the package doc).
//   - usage: input_tokens is the prompt tokens not read from the cache,
//     cache_read_input_tokens the cached ones, cache_creation_input_tokens
//     the ones written to the cache, output_tokens the completion tokens.
//
// Only the first choice is encoded; Anthropic's API has no n. A response
// with no choices encodes as an empty end_turn message.
func EncodeMessage(resp *llm.Response, requestModel string) ([]byte, error) {
	if resp == nil {
		return nil, errors.New("anthropicapi: EncodeMessage of a nil response")
	}
	id := MessageID(resp.ID)
	w := wireMessageOut{
		ID:      id,
		Type:    "message",
		Role:    llm.RoleAssistant,
		Model:   responseModel(requestModel, resp.Model),
		Content: []any{},
		Usage:   toWireUsage(&resp.Usage),
	}
	var finish string
	var calls int
	if len(resp.Choices) > 0 {
		c := &resp.Choices[0]
		m := &c.Message
		finish = c.FinishReason
		if text := m.Content + m.Refusal; text != "" {
			w.Content = append(w.Content, wireTextBlock{Type: blockText, Text: text})
		}
		for i, tc := range m.ToolCalls {
			w.Content = append(w.Content, wireToolUseBlock{
				Type:  blockToolUse,
				ID:    ToolUseID(tc.ID, id, i),
				Name:  tc.Function.Name,
				Input: toolInput(tc.Function.Arguments),
			})
		}
		calls = len(m.ToolCalls)
	}
	stop := stopReason(finish, calls > 0)
	w.StopReason = &stop
	return json.Marshal(&w, encodeOptions)
}

// MessageID maps an upstream response id onto Anthropic's "msg_" form,
// deterministically: an id that already starts with "msg_" is kept, an
// OpenAI "chatcmpl-" prefix is replaced ("chatcmpl-abc" becomes
// "msg_abc"), and any other id gets "msg_" in front. An empty id becomes
// "msg_unknown".
func MessageID(id string) string {
	if strings.HasPrefix(id, "msg_") {
		return id
	}
	id = strings.TrimPrefix(id, "chatcmpl-")
	if id == "" {
		id = "unknown"
	}
	return "msg_" + id
}

// ToolUseID returns the id of the i-th tool_use block of message msgID: id
// itself, which clients echo back in tool_result blocks and must therefore
// stay what the upstream issued, or "toolu_<msgID without msg_>_<i>" when
// the upstream sent none.
func ToolUseID(id, msgID string, i int) string {
	if id != "" {
		return id
	}
	return "toolu_" + strings.TrimPrefix(msgID, "msg_") + "_" + strconv.Itoa(i)
}

func responseModel(requestModel, upstream string) string {
	if requestModel != "" {
		return requestModel
	}
	return upstream
}

// toolInput returns args as a tool_use input: the arguments when they are
// one JSON object with unique member names, else {}. A client sends the
// input back in its next request, where DecodeMessagesRequest rejects
// duplicate names, so uniqueness is checked after invalid UTF-8 has been
// replaced (which can make two names equal).
func toolInput(args string) jsontext.Value {
	lax := []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}
	v := jsontext.Value(args)
	if v.Kind() != '{' || !v.IsValid(lax...) {
		return emptyInput
	}
	v = v.Clone()
	if v.Format(lax...) != nil || !v.IsValid() {
		return emptyInput
	}
	return v
}

// stopReason maps an OpenAI-vocabulary finish reason onto Anthropic's.
func stopReason(finish string, toolCalls bool) string {
	switch finish {
	case llm.FinishStop:
		return stopEndTurn
	case llm.FinishLength:
		return stopMaxTokens
	case llm.FinishToolCalls:
		return stopToolUse
	case llm.FinishContentFilter:
		return stopRefusal
	}
	if toolCalls {
		return stopToolUse
	}
	return stopEndTurn
}

// toWireUsage maps normalized usage onto Anthropic's, where input_tokens
// excludes the tokens read from and written to the cache.
func toWireUsage(u *llm.Usage) wireUsage {
	return wireUsage{
		InputTokens:              max(u.PromptTokens-u.CachedTokens-u.CacheWriteTokens, 0),
		CacheReadInputTokens:     u.CachedTokens,
		CacheCreationInputTokens: u.CacheWriteTokens,
		OutputTokens:             u.CompletionTokens,
	}
}
