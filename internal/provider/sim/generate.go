package sim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/tokens"
)

// faultSalt separates the fault stream's seed from the content stream's.
const faultSalt = 0x5eed_fa17_0000_0001

// plan is everything one call will do, drawn up front so that Chat and
// ChatStream behave alike.
type plan struct {
	id       string
	outcome  outcome
	status   int     // 500 or 503, for outcomeError
	breakAt  float64 // share of the content sent before a break
	ttft     time.Duration
	perToken time.Duration

	pieces   []tokens.Piece
	call     *llm.ToolCall
	logprobs []llm.TokenLogprob // one per piece; nil unless asked for
	finish   string

	promptTokens, outTokens int
}

func (pl *plan) text() string {
	var b strings.Builder
	for _, pc := range pl.pieces {
		b.WriteString(pc.Text)
	}
	return b.String()
}

func (pl *plan) usage() llm.Usage {
	return llm.Usage{PromptTokens: pl.promptTokens, CompletionTokens: pl.outTokens, TotalTokens: pl.promptTokens + pl.outTokens}
}

// doneAt is when the last chunk of the answer is due, from the start of the
// call.
func (pl *plan) doneAt() time.Duration {
	if pl.call != nil {
		return pl.ttft + pl.perToken
	}
	n := 0
	for _, pc := range pl.pieces {
		n += pc.Tokens
	}
	return pl.ttft + time.Duration(max(n-1, 0))*pl.perToken
}

// plan draws what a call with req will do. Two PCG streams are used: the
// content stream, seeded by the sim's seed and the request's content, draws
// the answer (length, words, logprobs), so identical requests get identical
// answers; the fault stream, seeded also by the number of earlier calls with
// the same content, draws the outcome, TTFT, error status and break point,
// so a retry of a failed request can succeed. Draws happen in a fixed order
// whatever the outcome, so a run replays exactly.
func (s *Sim) plan(req *llm.Request) (*plan, error) {
	if req.N != nil && *req.N > 1 {
		e := llm.Errorf("n", "the sim provider answers with one choice only (n=%d)", *req.N)
		e.Code, e.Model, e.Class = "unsupported_parameter", s.model, llm.ClassUnsupported
		return nil, e
	}
	key := contentKey(req)
	n := s.calls.next(key)
	faults := rand.New(rand.NewPCG(s.seed^faultSalt, mix(key, n)))
	content := rand.New(rand.NewPCG(s.seed, key))

	pl := &plan{
		id:       fmt.Sprintf("sim-%016x", mix(mix(s.seed, key), n)),
		perToken: s.perToken,
		finish:   llm.FinishStop,
	}
	pl.outcome = s.rates.pick(faults.Float64())
	pl.ttft = s.ttft.Sample(faults)
	pl.status = 500
	if faults.IntN(2) == 1 {
		pl.status = 503
	}
	pl.breakAt = faults.Float64()
	switch pl.outcome {
	case outcomeRateLimit, outcomeError, outcomeHang:
		return pl, nil
	}

	pl.promptTokens = tokens.Prompt(req)
	if call := s.toolCall(req, key, n); call != nil {
		pl.call = call
		pl.finish = llm.FinishToolCalls
		pl.outTokens = tokens.Count(call.Function.Name) + tokens.Count(call.Function.Arguments)
		return pl, nil
	}
	pl.pieces, pl.finish = s.answer(req, content)
	pl.outTokens = tokens.Count(pl.text())
	if req.Logprobs {
		top := 0
		if req.TopLogprobs != nil {
			top = min(max(*req.TopLogprobs, 0), 20)
		}
		pl.logprobs = logprobs(pl.pieces, top, content)
	}
	return pl, nil
}

// contentKey hashes what makes two requests "the same" to the sim: the
// messages, the tool names and the tool choice. Sampling parameters and
// max_tokens are not part of it.
func contentKey(req *llm.Request) uint64 {
	h := fnv.New64a()
	for _, m := range req.Messages {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", m.Role, m.Name, m.Content, m.ToolCallID)
		for _, tc := range m.ToolCalls {
			fmt.Fprintf(h, "%s\x00%s\x00", tc.Function.Name, tc.Function.Arguments)
		}
		h.Write([]byte{1})
	}
	for _, t := range req.Tools {
		fmt.Fprintf(h, "%s\x00", t.Function.Name)
	}
	h.Write(req.ToolChoice)
	return h.Sum64()
}

// answer returns the answer text as pieces and its finish reason: the reply
// template when set, otherwise generated text of a drawn length. Both are
// cut at max_tokens.
func (s *Sim) answer(req *llm.Request, r *rand.Rand) ([]tokens.Piece, string) {
	limit := 0
	if req.MaxTokens != nil && *req.MaxTokens > 0 {
		limit = *req.MaxTokens
	}
	last, turns := "", 0
	for _, m := range req.Messages {
		if m.Role == llm.RoleUser {
			last = m.Content
			turns++
		}
	}
	if s.reply != nil {
		var b strings.Builder
		// The template was executed once at load; it cannot fail on fields
		// now, and a failure midway leaves a partial text, which is fine for
		// a simulation.
		_ = s.reply.Execute(&b, replyData{Model: s.upstream, Prompt: last, Summary: summarize(last), Turn: turns})
		return cut(tokens.Split(b.String()), limit)
	}
	target := s.outputTokens.Sample(r)
	pieces := generate(r, summarize(last), target)
	if limit > 0 && target > limit {
		return cut(pieces, limit)
	}
	return pieces, llm.FinishStop
}

// cut keeps the pieces within limit tokens (0: no limit) and says whether
// the answer was cut ("length") or not ("stop").
func cut(pieces []tokens.Piece, limit int) ([]tokens.Piece, string) {
	if limit <= 0 {
		return pieces, llm.FinishStop
	}
	n := 0
	for i, pc := range pieces {
		if n+pc.Tokens > limit {
			return pieces[:i], llm.FinishLength
		}
		n += pc.Tokens
	}
	return pieces, llm.FinishStop
}

// summaryWords and summaryRunes bound the echo of the prompt.
const (
	summaryWords = 8
	summaryRunes = 80
)

// summarize returns the first words of s on one line.
func summarize(s string) string {
	words := strings.Fields(s)
	more := len(words) > summaryWords
	if more {
		words = words[:summaryWords]
	}
	out := strings.Join(words, " ")
	if utf8.RuneCountInString(out) > summaryRunes {
		out = string([]rune(out)[:summaryRunes])
		more = true
	}
	if more {
		out += "…"
	}
	return out
}

// vocabulary is the filler; each word is one cl100k token after a space.
var vocabulary = [...]string{
	"the", "model", "answer", "question", "result", "value", "system", "data",
	"time", "first", "second", "then", "because", "which", "would", "could",
	"should", "more", "less", "each", "every", "other", "number", "simple",
	"step", "case", "point", "part", "level", "line", "order", "rate",
	"total", "small", "large", "early", "later", "clear", "common", "general",
	"example", "reason", "method", "approach", "process", "change", "effect", "cost",
	"test", "check", "count", "sum", "list", "set", "table", "field",
	"route", "call", "request", "token", "price", "quality", "budget", "plan",
}

// generate writes text of target tokens, ending with a full stop: an echo of the prompt's
// first words, then sentences of filler words drawn from r.
func generate(r *rand.Rand, summary string, target int) []tokens.Piece {
	var b strings.Builder
	if summary == "" {
		b.WriteString("Simulated answer.")
	} else {
		b.WriteString(`Simulated answer to "` + summary + `".`)
	}
	est := tokens.Count(b.String())
	for {
		for est < target+4 {
			words := 6 + r.IntN(9)
			for i := range words {
				w := vocabulary[r.IntN(len(vocabulary))]
				if i == 0 {
					w = strings.ToUpper(w[:1]) + w[1:]
				}
				b.WriteString(" " + w)
			}
			b.WriteByte('.')
			est += words + 1
		}
		pieces := tokens.Split(b.String())
		n := 0
		for _, pc := range pieces {
			n += pc.Tokens
		}
		if n >= target {
			return endSentence(pieces, target)
		}
		est = n
	}
}

// endSentence cuts pieces to target tokens, ending with a full stop where
// it can so that the answer reads as finished: the stop takes the last
// token. When the token before the cut is punctuation, which a stop would
// merge with, the answer keeps its exact length and ends as cut instead.
func endSentence(pieces []tokens.Piece, target int) []tokens.Piece {
	full, _ := cut(pieces, target)
	if len(full) == 0 || target < 2 || strings.HasSuffix(full[len(full)-1].Text, ".") {
		return full
	}
	short, _ := cut(pieces, target-1)
	if len(short) == 0 {
		return full
	}
	// A stop after punctuation would merge with it into one token.
	if r, _ := utf8.DecodeLastRuneInString(short[len(short)-1].Text); !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return full
	}
	return append(short[:len(short):len(short)], tokens.Piece{Text: ".", Tokens: 1})
}

// logprobs draws a plausible log-probability for each piece: mostly near 0,
// exponentially fewer far below it. With top > 0 each position lists top
// alternatives (the sampled piece among them), sorted by log-probability,
// whose probabilities sum to less than 1.
func logprobs(pieces []tokens.Piece, top int, r *rand.Rand) []llm.TokenLogprob {
	out := make([]llm.TokenLogprob, len(pieces))
	for i, pc := range pieces {
		lp := max(-r.ExpFloat64()*0.3-1e-6, -20)
		tl := llm.TokenLogprob{Token: pc.Text, Logprob: lp, Bytes: byteValues(pc.Text), TopLogprobs: []llm.TopLogprob{}}
		if top > 0 {
			alts := []llm.TopLogprob{{Token: pc.Text, Logprob: lp, Bytes: tl.Bytes}}
			rest := 1 - math.Exp(lp)
			off := r.IntN(len(vocabulary))
			for j := 0; len(alts) < top && j < len(vocabulary); j++ {
				w := " " + vocabulary[(off+j)%len(vocabulary)]
				if w == pc.Text {
					continue
				}
				p := rest * math.Pow(0.5, float64(len(alts)))
				alts = append(alts, llm.TopLogprob{Token: w, Logprob: math.Log(p), Bytes: byteValues(w)})
			}
			sort.SliceStable(alts, func(a, b int) bool { return alts[a].Logprob > alts[b].Logprob })
			tl.TopLogprobs = alts
		}
		out[i] = tl
	}
	return out
}

func byteValues(s string) []int {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out
}

// toolCall returns the call to make when call_tools is on, the request
// offers tools, the tool choice is not "none" and the conversation does not
// end with a tool result (so an agent loop gets a text answer after its
// tool ran). It calls the function the tool choice names, or else the first
// tool, with arguments "{}".
func (s *Sim) toolCall(req *llm.Request, key, n uint64) *llm.ToolCall {
	if !s.callTools || len(req.Tools) == 0 {
		return nil
	}
	if k := len(req.Messages); k > 0 && req.Messages[k-1].Role == llm.RoleTool {
		return nil
	}
	mode, named := toolChoice(req.ToolChoice)
	if mode == "none" {
		return nil
	}
	name := ""
	for _, t := range req.Tools {
		if t.Function.Name == "" {
			continue
		}
		if name == "" || t.Function.Name == named {
			name = t.Function.Name
		}
		if t.Function.Name == named {
			break
		}
	}
	if name == "" {
		return nil
	}
	return &llm.ToolCall{
		ID:       fmt.Sprintf("call_%016x", mix(key^s.seed, n)),
		Type:     "function",
		Function: llm.FunctionCall{Name: name, Arguments: "{}"},
	}
}

// toolChoice reads an OpenAI tool_choice: "none", "auto", "required", or
// {"type": "function", "function": {"name": ...}}.
func toolChoice(raw json.RawMessage) (mode, name string) {
	if len(raw) == 0 {
		return "auto", ""
	}
	if json.Unmarshal(raw, &mode) == nil {
		return mode, ""
	}
	var obj struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return "function", obj.Function.Name
	}
	return "auto", ""
}
