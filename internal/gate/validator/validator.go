// Package validator provides the "validator" gate: domain checks of an
// answer's content. Code blocks must parse (Go, JSON, in process) or pass
// a configured command (a compiler run in a sandbox); the arithmetic steps
// of a worked solution must hold; the final answer must be stated in an
// expected form. See the package doc of gate for its config.
package validator

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/answer"
	"github.com/sextant-router/sextant/internal/policy"
)

// Kind is the gate's kind name.
const Kind = "validator"

func init() { gate.Register(Kind, New) }

// Defaults.
const (
	DefaultThreshold     = 1.0
	DefaultTimeout       = 10 * time.Second
	DefaultMemoryMB      = 1024
	DefaultMaxConcurrent = 2
	maxBlocks            = 16 // code blocks checked per answer
)

// Gate runs domain checks. Its score is the lowest of its checks' scores:
// arithmetic 1 - wrong/steps, final answer 1 or 0, code the share of
// checked blocks that pass.
type Gate struct {
	gate.Base
	arith     bool
	tolerance float64
	final     bool
	finalPat  *answer.Pattern // nil: any explicit final answer
	code      *codeCheck
}

type codeCheck struct {
	builtin  map[string]bool
	commands map[string]*command
	require  bool
	sem      chan struct{}
}

type command struct {
	argv    []string
	suffix  string
	sandbox Sandbox
}

type config struct {
	gate.Common
	Arithmetic  *arithConfig `json:"arithmetic"`
	FinalAnswer *finalConfig `json:"final_answer"`
	Code        *codeConfig  `json:"code"`
}

type arithConfig struct {
	Tolerance *float64 `json:"tolerance"`
}

type finalConfig struct {
	Pattern string `json:"pattern"`
}

type codeConfig struct {
	Languages     *[]string                `json:"languages"`
	Commands      map[string]commandConfig `json:"commands"`
	Require       bool                     `json:"require"`
	MaxConcurrent *int                     `json:"max_concurrent"`
}

type commandConfig struct {
	Command  []string      `json:"command"`
	Suffix   string        `json:"suffix"`
	Timeout  conf.Duration `json:"timeout"`
	MemoryMB *int          `json:"memory_mb"`
	Network  string        `json:"network"`
	PassEnv  []string      `json:"pass_env"`
}

// New builds a validator gate; see the package doc of gate for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	base, err := cfg.Common.Base(path, Kind, DefaultThreshold)
	if err != nil {
		return nil, err
	}
	g := &Gate{Base: base}
	if cfg.Arithmetic == nil && cfg.FinalAnswer == nil && cfg.Code == nil {
		return nil, conf.Errorf(path, "configure at least one check: arithmetic, final_answer or code")
	}
	if a := cfg.Arithmetic; a != nil {
		g.arith, g.tolerance = true, answer.DefaultTolerance
		if a.Tolerance != nil {
			if t := *a.Tolerance; !(t > 0 && t < 1) {
				return nil, conf.Errorf(conf.Join(path, "arithmetic.tolerance"), "must be in (0,1), got %v", t)
			}
			g.tolerance = *a.Tolerance
		}
	}
	if f := cfg.FinalAnswer; f != nil {
		g.final = true
		if f.Pattern != "" {
			p, err := answer.CompilePattern(f.Pattern)
			if err != nil {
				return nil, conf.Errorf(conf.Join(path, "final_answer.pattern"), "invalid regular expression: %v", err)
			}
			g.finalPat = p
		}
	}
	if cfg.Code != nil {
		cc, err := newCodeCheck(conf.Join(path, "code"), cfg.Code)
		if err != nil {
			return nil, err
		}
		g.code = cc
	}
	return g, nil
}

func newCodeCheck(path string, cfg *codeConfig) (*codeCheck, error) {
	cc := &codeCheck{builtin: map[string]bool{LangGo: true, LangJSON: true}, commands: map[string]*command{}, require: cfg.Require}
	if cfg.Languages != nil {
		cc.builtin = map[string]bool{}
		for i, l := range *cfg.Languages {
			switch Lang(l) {
			case LangGo, LangJSON:
				cc.builtin[Lang(l)] = true
			default:
				return nil, conf.Errorf(conf.Index(conf.Join(path, "languages"), i), "no builtin check for %q (builtin: go, json; use commands for others)", l)
			}
		}
	}
	langs := make([]string, 0, len(cfg.Commands))
	for l := range cfg.Commands {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		c := cfg.Commands[l]
		p := conf.Join(conf.Join(path, "commands"), l)
		if Lang(l) != l {
			return nil, conf.Errorf(p, "name the language %q, not its alias %q", Lang(l), l)
		}
		if len(c.Command) == 0 || c.Command[0] == "" {
			return nil, conf.Errorf(conf.Join(p, "command"), "required: the program and its arguments, {file} standing for the code's file")
		}
		if _, err := exec.LookPath(c.Command[0]); err != nil {
			return nil, conf.Errorf(conf.Join(p, "command"), "%q not found: %v", c.Command[0], err)
		}
		mem := DefaultMemoryMB
		if c.MemoryMB != nil {
			if *c.MemoryMB < 0 {
				return nil, conf.Errorf(conf.Join(p, "memory_mb"), "must not be negative")
			}
			mem = *c.MemoryMB
		}
		timeout := c.Timeout.D()
		if timeout == 0 {
			timeout = DefaultTimeout
		}
		if timeout > 5*time.Minute {
			return nil, conf.Errorf(conf.Join(p, "timeout"), "at most 5m, got %v", timeout)
		}
		sb := Sandbox{Timeout: timeout, MemoryBytes: int64(mem) << 20, PassEnv: c.PassEnv}
		switch c.Network {
		case "", "deny":
		case "allow":
			sb.Network = true
		default:
			return nil, conf.Errorf(conf.Join(p, "network"), "unknown value %q (want deny or allow)", c.Network)
		}
		if strings.ContainsAny(c.Suffix, "/\\") {
			return nil, conf.Errorf(conf.Join(p, "suffix"), "must be a file name suffix such as \".py\"")
		}
		cc.commands[l] = &command{argv: c.Command, suffix: c.Suffix, sandbox: sb}
		delete(cc.builtin, l) // a command replaces the builtin check
	}
	n := DefaultMaxConcurrent
	if cfg.MaxConcurrent != nil {
		if *cfg.MaxConcurrent < 1 {
			return nil, conf.Errorf(conf.Join(path, "max_concurrent"), "must be at least 1")
		}
		n = *cfg.MaxConcurrent
	}
	cc.sem = make(chan struct{}, n)
	return cc, nil
}

// Check runs the configured checks on a's first choice. On a partial
// answer only the arithmetic of its complete lines is checked, and the
// gate fails or skips, never passes. A command that cannot be run at all
// is an error.
func (g *Gate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	text := a.Text()
	metrics := map[string]float64{}
	score, judged := 1.0, 0
	var notes []string
	sub := func(s float64, note string) {
		judged++
		score = min(score, s)
		if note != "" {
			notes = append(notes, note)
		}
	}
	if a.Partial {
		if i := strings.LastIndexByte(text, '\n'); i >= 0 {
			text = text[:i]
		} else {
			text = ""
		}
	}
	if g.arith {
		var ar answer.Arithmetic
		if g.tolerance == answer.DefaultTolerance && !a.Partial {
			ar = a.Analysis().Arithmetic()
		} else {
			ar = answer.CheckArithmetic(text, g.tolerance)
		}
		metrics["arithmetic_steps"] = float64(ar.Steps)
		metrics["arithmetic_wrong"] = float64(ar.Wrong)
		if ar.Steps > 0 {
			note := ""
			if ar.Wrong > 0 {
				note = fmt.Sprintf("%d of %d steps wrong: %s", ar.Wrong, ar.Steps, strings.Join(ar.Errors, "; "))
			}
			sub(1-ar.Share(), note)
		}
	}
	if a.Partial {
		v := g.Verdict(c, score, strings.Join(notes, "; "))
		if judged == 0 || v.Pass {
			v = g.Skip(c, "prefix: nothing wrong so far")
		}
		v.Metrics = metrics
		return v, nil
	}
	if g.final {
		ok := false
		if g.finalPat != nil {
			_, ok = g.finalPat.Find(text, "")
		} else {
			ok = a.Analysis().Stated()
		}
		metrics["final_answer"] = b2f(ok)
		if ok {
			sub(1, "")
		} else if g.finalPat != nil {
			sub(0, fmt.Sprintf("no final answer matching %q", g.finalPat.String()))
		} else {
			sub(0, "no final answer stated (####, \\boxed{} or \"the answer is\")")
		}
	}
	if g.code != nil {
		checked, failed, note, err := g.code.check(ctx, text)
		if err != nil {
			return gate.Verdict{}, err
		}
		metrics["code_blocks"] = float64(checked)
		metrics["code_failed"] = float64(failed)
		switch {
		case checked > 0:
			sub(float64(checked-failed)/float64(checked), note)
		case g.code.require:
			sub(0, "no code block to check")
		}
	}
	if judged == 0 {
		v := g.Skip(c, "nothing to check: no arithmetic steps or checkable code")
		v.Metrics = metrics
		return v, nil
	}
	reason := strings.Join(notes, "; ")
	if reason == "" {
		reason = fmt.Sprintf("%d checks pass", judged)
	}
	v := g.Verdict(c, score, reason)
	v.Metrics = metrics
	return v, nil
}

// check checks the answer's code blocks in languages it knows: how many
// it checked, how many failed and why.
func (cc *codeCheck) check(ctx context.Context, text string) (checked, failed int, note string, err error) {
	var notes []string
	for _, b := range answer.Blocks(text) {
		if checked == maxBlocks {
			break
		}
		lang := Lang(b.Lang)
		var problem string
		switch {
		case cc.builtin[lang] && lang == LangGo:
			if e := checkGo(b.Code); e != nil {
				problem = e.Error()
			}
		case cc.builtin[lang] && lang == LangJSON:
			if e := checkJSON(b.Code); e != nil {
				problem = e.Error()
			}
		case cc.commands[lang] != nil:
			res, e := cc.run(ctx, cc.commands[lang], b.Code)
			if e != nil {
				return 0, 0, "", fmt.Errorf("validator: %s check: %w", lang, e)
			}
			switch {
			case res.TimedOut:
				problem = "timed out"
			case !res.OK:
				problem = summary(res.Output)
			}
		default:
			continue
		}
		checked++
		if !b.Closed && problem == "" {
			problem = "block not closed (truncated?)"
		}
		if problem != "" {
			failed++
			if len(notes) < 3 {
				notes = append(notes, fmt.Sprintf("%s block %d: %s", lang, checked, clip(problem, 160)))
			}
		}
	}
	return checked, failed, strings.Join(notes, "; "), nil
}

// run runs one command, at most max_concurrent at a time.
func (cc *codeCheck) run(ctx context.Context, cmd *command, code string) (Result, error) {
	select {
	case cc.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-cc.sem }()
	return cmd.sandbox.Run(ctx, cmd.argv, code, cmd.suffix)
}

// summary picks the line of a checker's output that says what is wrong:
// the first that mentions an error, else the last non-empty one (where
// Python puts its SyntaxError). The sandbox's file path reads "code".
func summary(out string) string {
	last := ""
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if i := strings.Index(l, "/sextant-validator-"); i >= 0 {
			if j := strings.Index(l[i:], "/code"); j >= 0 {
				start := strings.LastIndexAny(l[:i], " \"'(") + 1
				l = l[:start] + l[i+j+1:]
			}
		}
		if strings.Contains(strings.ToLower(l), "error") {
			return l
		}
		last = l
	}
	if last == "" {
		return "failed without output"
	}
	return last
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var _ gate.Gate = (*Gate)(nil)
