package policytest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

// ErrGate is the error of a gate configured with error: true.
var ErrGate = errors.New("the gate broke")

// GateChecks counts Check calls on gates registered by RegisterGate.
var GateChecks atomic.Int64

// GateConfig is the config of the gate kind RegisterGate registers. The
// gate passes at 0.5 by default. Checks run in this order:
//
//	block:    wait for the end of the context
//	error:    fail with ErrGate
//	skip:     never judge
//	forbid:   score 0 when the text holds this, else 1; judges prefixes
//	          (a hit is final) and skips prefixes without a hit
//	require:  score 1 only when the text holds this; like forbid otherwise
//	prefix:   judge prefixes by scores too (otherwise skip them)
//	scores:   the score of each answering model (default 1); an empty
//	          whole answer scores 0
//	logprobs: prepare requests to ask for logprobs
type GateConfig struct {
	gate.Common
	Scores   map[string]float64 `json:"scores"`
	Forbid   string             `json:"forbid"`
	Require  string             `json:"require"`
	Prefix   bool               `json:"prefix"`
	Error    bool               `json:"error"`
	Skip     bool               `json:"skip"`
	Logprobs bool               `json:"logprobs"`
	Block    bool               `json:"block"`
}

// RegisterGate registers the test gate as gate kind kind. Call it once,
// from a test package's init; a second registration of kind panics.
func RegisterGate(kind string) {
	gate.Register(kind, func(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
		var cfg GateConfig
		if err := conf.Decode(path, raw, &cfg); err != nil {
			return nil, err
		}
		base, err := cfg.Common.Base(path, kind, 0.5)
		if err != nil {
			return nil, err
		}
		return &testGate{Base: base, cfg: cfg}, nil
	})
}

type testGate struct {
	gate.Base
	cfg GateConfig
}

func (g *testGate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	GateChecks.Add(1)
	text := a.Text()
	switch {
	case g.cfg.Block:
		<-ctx.Done()
		return gate.Verdict{}, ctx.Err()
	case g.cfg.Error:
		return gate.Verdict{}, ErrGate
	case g.cfg.Skip:
		return g.Skip(c, "never judges"), nil
	case g.cfg.Forbid != "":
		if strings.Contains(text, g.cfg.Forbid) {
			return g.Verdict(c, 0, "says "+g.cfg.Forbid), nil
		}
		if a.Partial {
			return g.Skip(c, "not seen yet"), nil
		}
		return g.Verdict(c, 1, "clean"), nil
	case g.cfg.Require != "":
		if strings.Contains(text, g.cfg.Require) {
			return g.Verdict(c, 1, "says "+g.cfg.Require), nil
		}
		if a.Partial {
			return g.Skip(c, "not seen yet"), nil
		}
		return g.Verdict(c, 0, "missing "+g.cfg.Require), nil
	}
	if a.Partial && !g.cfg.Prefix {
		return g.Skip(c, "judges whole answers"), nil
	}
	if text == "" && !a.Partial {
		return g.Verdict(c, 0, "empty"), nil
	}
	score := 1.0
	if s, ok := g.cfg.Scores[a.Model]; ok {
		score = s
	}
	return g.Verdict(c, score, "scored by model"), nil
}

// Prepare asks for logprobs when the gate is configured to.
func (g *testGate) Prepare(m *catalog.Model, req *llm.Request) *llm.Request {
	if !g.cfg.Logprobs || req.Logprobs {
		return req
	}
	r := req.Clone()
	r.Logprobs = true
	return r
}
