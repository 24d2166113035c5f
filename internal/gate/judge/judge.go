// Package judge provides the "judge" gate: a judge model rates the answer
// from 1 to 10 against a rubric. See the package doc of gate for its
// config.
package judge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

// Kind is the gate's kind name.
const Kind = "judge"

func init() { gate.Register(Kind, New) }

// Defaults.
const (
	// DefaultThreshold is a rating of 7: (7-1)/9.
	DefaultThreshold = 2.0 / 3
	DefaultMaxTokens = 512
)

// DefaultRubric is the judge's system prompt when none is configured.
const DefaultRubric = `You are an impartial judge of the quality of an AI assistant's answer to a user's request.
Judge the answer on correctness first, then on helpfulness, relevance, depth and clarity.
A wrong final result, a refusal of a harmless request, or an answer that ignores the instructions is poor whatever its style.
Explain your judgement briefly, then rate the answer on a scale of 1 to 10 in exactly this format: "Rating: [[N]]", for example "Rating: [[6]]".`

// Gate asks a judge model to rate an answer.
type Gate struct {
	gate.Base
	model       string
	rubric      string
	maxTokens   int
	temperature float64
}

type config struct {
	gate.Common
	Model       string   `json:"model"`
	Rubric      string   `json:"rubric"`
	RubricFile  string   `json:"rubric_file"`
	MaxTokens   *int     `json:"max_tokens"`
	Temperature *float64 `json:"temperature"`
}

// New builds a judge gate; see the package doc of gate for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	base, err := cfg.Common.Base(path, Kind, DefaultThreshold)
	if err != nil {
		return nil, err
	}
	g := &Gate{Base: base, model: cfg.Model, rubric: DefaultRubric, maxTokens: DefaultMaxTokens}
	if g.model == "" {
		return nil, conf.Errorf(conf.Join(path, "model"), "required: the judge model")
	}
	if !b.HasModel(g.model) {
		return nil, conf.Errorf(conf.Join(path, "model"), "unknown model %q", g.model)
	}
	switch {
	case cfg.Rubric != "" && cfg.RubricFile != "":
		return nil, conf.Errorf(conf.Join(path, "rubric_file"), "set rubric or rubric_file, not both")
	case cfg.Rubric != "":
		g.rubric = cfg.Rubric
	case cfg.RubricFile != "":
		data, err := os.ReadFile(b.Path(cfg.RubricFile))
		if err != nil {
			return nil, conf.Errorf(conf.Join(path, "rubric_file"), "%v", err)
		}
		if g.rubric = strings.TrimSpace(string(data)); g.rubric == "" {
			return nil, conf.Errorf(conf.Join(path, "rubric_file"), "the file is empty")
		}
	}
	if cfg.MaxTokens != nil {
		if *cfg.MaxTokens < 16 {
			return nil, conf.Errorf(conf.Join(path, "max_tokens"), "must be at least 16, got %d", *cfg.MaxTokens)
		}
		g.maxTokens = *cfg.MaxTokens
	}
	if cfg.Temperature != nil {
		if t := *cfg.Temperature; !(t >= 0 && t <= 2) {
			return nil, conf.Errorf(conf.Join(path, "temperature"), "must be in [0,2], got %v", t)
		}
		g.temperature = *cfg.Temperature
	}
	return g, nil
}

// Check asks the judge to rate a's first choice and scores (rating-1)/9.
// It skips a partial answer. A judge call that fails, or a reply without
// a rating, is an error.
func (g *Gate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	if a.Partial {
		return g.Skip(c, "prefix: the judge needs the whole answer"), nil
	}
	if c == nil || c.Exec == nil {
		return gate.Verdict{}, errors.New("judge: no executor")
	}
	req := a.Request
	if req == nil {
		req = c.Request
	}
	mt, temp := g.maxTokens, g.temperature
	jreq := &llm.Request{
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: g.rubric},
			{Role: llm.RoleUser, Content: Prompt(req, a.Text())},
		},
		MaxTokens:   &mt,
		Temperature: &temp,
	}
	out, err := c.Exec.Call(ctx, c, g.model, jreq)
	if err != nil {
		return gate.Verdict{}, fmt.Errorf("judge %s: %w", g.model, err)
	}
	reply := out.Response.Text()
	rating, ok := ParseRating(reply)
	if !ok {
		return gate.Verdict{}, fmt.Errorf("judge %s gave no rating: %q", g.model, clip(reply, 120))
	}
	v := g.Verdict(c, (rating-1)/9, fmt.Sprintf("rated %g/10 by %s", rating, g.model))
	v.Metrics = map[string]float64{"rating": rating}
	return v, nil
}

// Prompt renders the conversation of req and the answer for the judge:
// earlier turns as context, the last user message as the question.
func Prompt(req *llm.Request, answer string) string {
	var b strings.Builder
	var turns []llm.Message
	if req != nil {
		for _, m := range req.Messages {
			if m.Role == llm.RoleUser || m.Role == llm.RoleAssistant || m.Role == llm.RoleSystem || m.Role == llm.RoleDeveloper {
				turns = append(turns, m)
			}
		}
	}
	last := len(turns) - 1
	for last >= 0 && turns[last].Role != llm.RoleUser {
		last--
	}
	if last > 0 {
		b.WriteString("[Conversation so far]\n")
		for _, m := range turns[:last] {
			fmt.Fprintf(&b, "%s: %s\n", m.Role, m.Content)
		}
		b.WriteString("\n")
	}
	b.WriteString("[Question]\n")
	if last >= 0 {
		b.WriteString(turns[last].Content)
	}
	b.WriteString("\n\n[The Start of the Answer]\n")
	b.WriteString(answer)
	b.WriteString("\n[The End of the Answer]")
	return b.String()
}

var (
	bracketed = regexp.MustCompile(`\[\[\s*(\d+(?:\.\d+)?)\s*(?:/\s*10\s*)?\]\]`)
	labeled   = regexp.MustCompile(`(?i)(?:rating|score|grade)\s*(?:is|of|:|=)?\s*\**\s*(\d+(?:\.\d+)?)`)
	outOf     = regexp.MustCompile(`(?i)\b(\d+(?:\.\d+)?)\s*(?:/|out of)\s*10\b`)
)

// ParseRating finds the judge's rating in reply: the last "[[N]]", else
// the last "Rating: N" / "Score: N", else the last "N/10" or "N out of
// 10". A rating must be in [1,10].
func ParseRating(reply string) (float64, bool) {
	for _, re := range []*regexp.Regexp{bracketed, labeled, outOf} {
		ms := re.FindAllStringSubmatch(reply, -1)
		for i := len(ms) - 1; i >= 0; i-- {
			v, err := strconv.ParseFloat(ms[i][1], 64)
			if err == nil && v >= 1 && v <= 10 {
				return v, true
			}
		}
	}
	return 0, false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var _ gate.Gate = (*Gate)(nil)
