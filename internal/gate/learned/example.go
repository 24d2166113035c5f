package learned

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/gate/answer"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
)

// AnswerNumeric names the answer features AnswerExample sets, besides the
// request's (learn.RequestNumeric, prefixed "req_"):
//
//	log_chars          ln(1 + characters of the answer)
//	log_lines          ln(1 + non-empty lines)
//	log_numbers        ln(1 + numbers written)
//	hedges             ln(1 + hedging phrases, answer.DefaultHedges)
//	refusal            1 when a refusal phrase opens the answer (first 300
//	                   bytes) or the message carries a refusal
//	arith_steps        ln(1 + arithmetic steps, answer.CheckArithmetic)
//	arith_wrong        ln(1 + steps that do not hold)
//	arith_wrong_share  wrong steps over steps (0 without steps)
//	final_stated       1 when the answer states a final answer (####,
//	                   \boxed{}, "the answer is")
//	final_hashes       1 when it uses GSM8K's "####"
//	final_numeric      1 when its final answer is a number
//	final_in_prompt    1 when that number also occurs in the request's
//	                   last user message (a copied number)
//	code_blocks        ln(1 + fenced code blocks)
//	code_unclosed      1 when a code block is left open
//	truncated          1 when finish_reason is length
//	has_logprobs       1 when the answer carries log-probabilities; then
//	lp_mean, lp_min    mean and lowest token log-probability
//	lp_margin          mean top-1 margin (0 without alternatives)
//	answer_ratio       ln(1 + answer chars / (1 + last user message chars))
var AnswerNumeric = []string{
	"log_chars", "log_lines", "log_numbers", "hedges", "refusal",
	"arith_steps", "arith_wrong", "arith_wrong_share",
	"final_stated", "final_hashes", "final_numeric", "final_in_prompt",
	"code_blocks", "code_unclosed", "truncated",
	"has_logprobs", "lp_mean", "lp_min", "lp_margin", "answer_ratio",
}

var (
	hedges   = answer.NewPhrases(answer.DefaultHedges)
	refusals = answer.NewPhrases(answer.DefaultRefusals)
)

// AnswerExample is the one featurizer of answers, used alike to train gate
// models (from recorded answers, see RecordExample) and to serve them: its
// text is the answer's first choice (hashed into word n-grams by the
// model) and its numeric features are AnswerNumeric of the answer plus
// the request's learn.RequestNumeric features prefixed "req_". req may
// be nil (no request features); resp must hold the answer.
//
// Cost: one scan of the answer per feature family and one of the request
// (features.Extract), about 50 µs for a 500-token answer.
func AnswerExample(req *llm.Request, resp *llm.Response) learn.Example {
	var text string
	if resp != nil && len(resp.Choices) > 0 {
		text = resp.Choices[0].Message.Content
	}
	return answerExample(req, resp, answer.Analyse(text))
}

// answerExample is AnswerExample with the answer's text analysis done.
func answerExample(req *llm.Request, resp *llm.Response, an *answer.Analysis) learn.Example {
	var ch llm.Choice
	if resp != nil && len(resp.Choices) > 0 {
		ch = resp.Choices[0]
	}
	text := ch.Message.Content
	lower := an.Lower()
	num := make(map[string]float64, len(AnswerNumeric)+len(learn.RequestNumeric))

	chars := utf8.RuneCountInString(text)
	num["log_chars"] = math.Log1p(float64(chars))
	lines := 0
	for l := range strings.Lines(text) {
		if strings.TrimSpace(l) != "" {
			lines++
		}
	}
	num["log_lines"] = math.Log1p(float64(lines))
	num["log_numbers"] = math.Log1p(float64(answer.CountNumbers(text)))
	num["hedges"] = math.Log1p(float64(hedges.Count(lower)))
	_, refused := refusals.Near(lower, 300)
	num["refusal"] = b2f(refused || ch.Message.Refusal != "")

	ar := an.Arithmetic()
	num["arith_steps"] = math.Log1p(float64(ar.Steps))
	num["arith_wrong"] = math.Log1p(float64(ar.Wrong))
	num["arith_wrong_share"] = ar.Share()

	final, kind := an.Final()
	num["final_stated"] = b2f(kind == answer.FinalHashes || kind == answer.FinalBoxed || kind == answer.FinalMarker)
	num["final_hashes"] = b2f(kind == answer.FinalHashes)
	_, numeric := answer.ParseNumber(final)
	num["final_numeric"] = b2f(numeric)

	var f *features.Set
	if req != nil {
		f = features.Extract(req)
		for k, v := range learn.RequestExample(req, f).Numeric {
			num["req_"+k] = v
		}
	}
	inPrompt := false
	if numeric && f != nil {
		for _, n := range answer.Numbers(f.LastUser) {
			if answer.FormatNumber(n.Value) == final {
				inPrompt = true
				break
			}
		}
	}
	num["final_in_prompt"] = b2f(inPrompt)

	blocks := answer.Blocks(text)
	unclosed := false
	for _, b := range blocks {
		unclosed = unclosed || !b.Closed
	}
	num["code_blocks"] = math.Log1p(float64(len(blocks)))
	num["code_unclosed"] = b2f(unclosed)
	num["truncated"] = b2f(ch.FinishReason == llm.FinishLength)

	if s, ok := answer.Logprobs(ch.Logprobs); ok {
		num["has_logprobs"] = 1
		num["lp_mean"], num["lp_min"], num["lp_margin"] = s.Mean, s.Min, s.Margin
	} else {
		num["has_logprobs"] = 0
		num["lp_mean"], num["lp_min"], num["lp_margin"] = 0, 0, 0
	}
	userChars := 0
	if f != nil {
		userChars = f.LastUserChars
	}
	num["answer_ratio"] = math.Log1p(float64(chars) / float64(1+userChars))
	return learn.Example{Text: text, Numeric: num}
}

// RecordExample is AnswerExample of a recorded answer: the request a
// router sees for the record and the answer text, finished with "stop"
// (recorded answers carry no finish reason or log-probabilities; a cut
// recorded answer still shows as an unfinished final answer or an open
// code block). model is the recorded model's name and is not a feature:
// a gate judges the answer, not who wrote it. It has the signature of the
// answer hook of `sextant train --kind gate` (package trainset).
func RecordExample(model string, req *llm.Request, text string) learn.Example {
	return AnswerExample(req, &llm.Response{Choices: []llm.Choice{{
		Message: llm.Message{Role: llm.RoleAssistant, Content: text}, FinishReason: llm.FinishStop,
	}}})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
