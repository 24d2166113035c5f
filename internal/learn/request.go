package learn

import (
	"math"
	"strings"

	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/llm"
)

// RequestNumeric names the numeric features RequestExample sets, in order.
// Each is computed from the request's features.Set:
//
//	log_tokens   ln(1 + estimated tokens of every message)
//	turns        the number of user messages
//	math         1 when the user wrote arithmetic, LaTeX or math symbols
//	code         1 when the user wrote code
//	multi_step   1 when the user asks for steps or numbers a list
//	questions    ln(1 + English question words the user wrote)
//	latin        1 when the last user message is in a Latin script
//	system       1 when a system or developer message is present
//	tools        1 when the caller declared tools
//	json         1 when the caller asked for JSON
//	images       1 when a message holds an image
var RequestNumeric = []string{"log_tokens", "turns", "math", "code", "multi_step", "questions", "latin", "system", "tools", "json", "images"}

// RequestExample is the one featurizer of requests, used alike to train
// request models (classifier, winrate) and to serve them: its text is the
// user messages' text, joined by newlines (system prompts, assistant
// turns and tool results are left out, so that an application's fixed
// system prompt does not drown the user's words), and its numeric
// features are RequestNumeric, read from f. f must be the features of
// req (features.Extract(req)); a nil f is computed here.
//
// It allocates the numeric map and, for more than one user message, the
// joined text; never per token.
func RequestExample(req *llm.Request, f *features.Set) Example {
	if f == nil {
		f = features.Extract(req)
	}
	x := TextExample(req)
	x.Numeric = map[string]float64{
		"log_tokens": math.Log1p(float64(f.Tokens)),
		"turns":      float64(f.UserTurns),
		"math":       b2f(f.HasMath),
		"code":       b2f(f.HasCode),
		"multi_step": b2f(f.MultiStep),
		"questions":  math.Log1p(float64(f.QuestionWords)),
		"latin":      b2f(f.Language == features.LangLatin),
		"system":     b2f(f.System),
		"tools":      b2f(f.Tools > 0),
		"json":       b2f(f.JSON),
		"images":     b2f(f.Images > 0),
	}
	return x
}

// TextExample is RequestExample without the numeric features: all that
// a model reads whose Numeric() is empty (the shipped example models),
// and it skips features.Extract, whose token count dominates the cost of
// featurizing a long prompt.
func TextExample(req *llm.Request) Example {
	var text string
	if req != nil {
		users := 0
		size := 0
		for i := range req.Messages {
			if req.Messages[i].Role == llm.RoleUser {
				users++
				size += len(req.Messages[i].Content) + 1
				text = req.Messages[i].Content
			}
		}
		if users > 1 {
			var b strings.Builder
			b.Grow(size)
			for i := range req.Messages {
				if req.Messages[i].Role == llm.RoleUser {
					if b.Len() > 0 {
						b.WriteByte('\n')
					}
					b.WriteString(req.Messages[i].Content)
				}
			}
			text = b.String()
		}
	}
	return Example{Text: text}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
