package gemini

import (
	"bytes"
	"cmp"
	"encoding/json"
	"strings"

	"github.com/sextant-router/sextant/internal/llm"
)

// The response shape of generateContent, which is also each event of
// streamGenerateContent. The API writes proto3 JSON, which leaves out
// fields at their zero value: the first candidate's index, a zero
// logProbability, a zero token count.

type generateResponse struct {
	Candidates     []candidate     `json:"candidates"`
	PromptFeedback *promptFeedback `json:"promptFeedback"`
	UsageMetadata  *usageMetadata  `json:"usageMetadata"`
	ModelVersion   string          `json:"modelVersion"`
	ResponseID     string          `json:"responseId"`
	// Error is set when an error is sent in place of a response: as a
	// stream event, or in a 2xx body.
	Error *errorBody `json:"error"`
}

// blocked reports whether the prompt itself was blocked, in which case
// there are no candidates.
func (r *generateResponse) blocked() bool {
	return r.PromptFeedback != nil && r.PromptFeedback.BlockReason != ""
}

type candidate struct {
	Content        *content        `json:"content"`
	FinishReason   string          `json:"finishReason"`
	Index          int             `json:"index"`
	LogprobsResult *logprobsResult `json:"logprobsResult"`
}

type promptFeedback struct {
	BlockReason string `json:"blockReason"`
}

type usageMetadata struct {
	PromptTokenCount        int `json:"promptTokenCount"`
	CandidatesTokenCount    int `json:"candidatesTokenCount"`
	TotalTokenCount         int `json:"totalTokenCount"`
	CachedContentTokenCount int `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount int `json:"toolUsePromptTokenCount"`
}

type logprobsResult struct {
	TopCandidates []struct {
		Candidates []logprobCandidate `json:"candidates"`
	} `json:"topCandidates"`
	ChosenCandidates []logprobCandidate `json:"chosenCandidates"`
}

type logprobCandidate struct {
	Token          string  `json:"token"`
	LogProbability float64 `json:"logProbability"`
}

// response translates a whole generateContent response.
func (p *Provider) response(r *generateResponse) *llm.Response {
	out := &llm.Response{
		ID:      r.ResponseID,
		Created: p.now().Unix(),
		Model:   cmp.Or(r.ModelVersion, p.upstream),
		Choices: make([]llm.Choice, 0, max(len(r.Candidates), 1)),
	}
	for _, c := range r.Candidates {
		text, calls := c.Content.split(0)
		msg := llm.Message{Role: llm.RoleAssistant, Content: text, ToolCalls: calls}
		out.Choices = append(out.Choices, llm.Choice{
			Index:        c.Index,
			Message:      msg,
			FinishReason: finishReason(c.FinishReason, len(calls) > 0),
			Logprobs:     c.LogprobsResult.llm(),
		})
	}
	if len(r.Candidates) == 0 && r.blocked() {
		// A blocked prompt is an answer, not a failure: another model
		// would most likely block it too.
		out.Choices = append(out.Choices, llm.Choice{
			Message:      llm.Message{Role: llm.RoleAssistant},
			FinishReason: llm.FinishContentFilter,
		})
	}
	if r.UsageMetadata != nil {
		out.Usage = r.UsageMetadata.llm()
	}
	return out
}

// split returns a candidate content's answer text (thought parts left
// out) and its function calls as tool calls, numbered from first. Parts of
// other kinds (inline data, executable code) are dropped.
func (c *content) split(first int) (string, []llm.ToolCall) {
	if c == nil {
		return "", nil
	}
	var (
		b     strings.Builder
		calls []llm.ToolCall
	)
	for _, pt := range c.Parts {
		switch {
		case pt.FunctionCall != nil:
			calls = append(calls, llm.ToolCall{
				ID:   callID(first+len(calls), pt.ThoughtSignature),
				Type: "function",
				Function: llm.FunctionCall{
					Name:      pt.FunctionCall.Name,
					Arguments: argsText(pt.FunctionCall.Args),
				},
			})
		case pt.Thought:
		default:
			b.WriteString(pt.Text)
		}
	}
	return b.String(), calls
}

// argsText renders a functionCall's args as compact JSON text; absent args
// are "{}".
func argsText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// finishReason maps the API's finishReason to the OpenAI vocabulary. STOP
// is tool_calls when the candidate called a function. Every reason that
// means generation was blocked by a filter is content_filter. The rest
// (MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, LANGUAGE, OTHER,
// NO_IMAGE, unknown and unspecified reasons) is stop: the candidate
// ended, and what it holds is all there is.
func finishReason(r string, calls bool) string {
	switch r {
	case "":
		return ""
	case "MAX_TOKENS":
		return llm.FinishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT":
		return llm.FinishContentFilter
	}
	if calls {
		return llm.FinishToolCalls
	}
	return llm.FinishStop
}

// llm maps usage. Thinking tokens are output the caller pays for, so they
// count as completion tokens as well as reasoning tokens; tokens of
// built-in tool results count as prompt tokens.
func (u *usageMetadata) llm() llm.Usage {
	out := llm.Usage{
		PromptTokens:     u.PromptTokenCount + u.ToolUsePromptTokenCount,
		CompletionTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount,
		TotalTokens:      u.TotalTokenCount,
		CachedTokens:     u.CachedContentTokenCount,
		ReasoningTokens:  u.ThoughtsTokenCount,
	}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.PromptTokens + out.CompletionTokens
	}
	return out
}

// llm maps per-token logprobs: chosenCandidates are the sampled tokens and
// topCandidates, step by step, their alternatives.
func (l *logprobsResult) llm() *llm.Logprobs {
	if l == nil {
		return nil
	}
	out := &llm.Logprobs{Content: make([]llm.TokenLogprob, len(l.ChosenCandidates))}
	for i, c := range l.ChosenCandidates {
		tl := llm.TokenLogprob{Token: c.Token, Logprob: c.LogProbability, Bytes: tokenBytes(c.Token), TopLogprobs: []llm.TopLogprob{}}
		if i < len(l.TopCandidates) {
			for _, alt := range l.TopCandidates[i].Candidates {
				tl.TopLogprobs = append(tl.TopLogprobs, llm.TopLogprob{Token: alt.Token, Logprob: alt.LogProbability, Bytes: tokenBytes(alt.Token)})
			}
		}
		out.Content[i] = tl
	}
	return out
}

func tokenBytes(s string) []int {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out
}
