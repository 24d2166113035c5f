package eval

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/executor"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/tokens"
)

// codeNoRecordedAnswer is the replay provider's error code for a record
// without an answer text for the requested turn.
const codeNoRecordedAnswer = "no_recorded_answer"

// base builds, once, the snapshot every run shares: the rewritten config's
// models and executor, with every replay model wrapped so that an answer
// the data set has no text for is charged at the model's estimate instead
// of failing. It holds no routes; withRoute adds one.
func (e *Evaluator) base() (*config.Snapshot, error) {
	e.baseOnce.Do(func() {
		f := *e.file
		f.Routes = nil
		snap, err := config.Build(&f, config.BuildOptions{BaseDir: e.baseDir})
		if err != nil {
			e.baseErr = err
			return
		}
		targets := make(map[string]executor.Target, len(snap.Targets))
		for name, t := range snap.Targets {
			if m := e.byName[name]; m != nil && m.Provider == "replay" {
				t.Provider = &offline{inner: t.Provider, tokens: m.estimate}
			}
			targets[name] = t
		}
		out := *snap
		out.Targets = targets
		out.Executor = executor.New(targets, executorOptions(&f.Executor))
		e.baseSnap = &out
	})
	return e.baseSnap, e.baseErr
}

// withRoute returns the base snapshot with one route, route's config
// under e.opts.Route (none when route is nil).
//
// The route's tree is built by config.Build itself, from a twin of the
// config whose models are cheap simulated stand-ins with the same names
// and catalog entries: a tree holds model names, never providers (nodes
// reach models through the executor of the call), so the tree fits the
// base snapshot, and a sweep point costs no reload of the data set.
func (e *Evaluator) withRoute(route json.RawMessage) (*config.Snapshot, error) {
	base, err := e.base()
	if err != nil {
		return nil, err
	}
	out := *base
	out.Routes = map[string]policy.Node{}
	out.RouteOrder = nil
	if route == nil {
		return &out, nil
	}
	twin := *e.twin
	twin.Routes = map[string]json.RawMessage{e.opts.Route: route}
	snap, err := config.Build(&twin, config.BuildOptions{BaseDir: e.baseDir})
	if err != nil {
		return nil, err
	}
	out.Routes[e.opts.Route] = snap.Routes[e.opts.Route]
	out.RouteOrder = []string{e.opts.Route}
	return &out, nil
}

// twinOf returns f with every model a simulated stand-in, for building
// route trees only.
func twinOf(f *config.File) *config.File {
	t := *f
	t.Models = make([]config.Model, len(f.Models))
	for i, m := range f.Models {
		m.Provider, m.Options = "sim", json.RawMessage(`{"realtime":false}`)
		t.Models[i] = m
	}
	return &t
}

// executorOptions mirrors how config.Build configures the executor.
func executorOptions(x *config.Executor) executor.Options {
	retries := 0 // the executor's default
	if x.MaxRetries != nil {
		retries = *x.MaxRetries
		if retries == 0 {
			retries = -1 // explicitly none
		}
	}
	return executor.Options{
		AttemptTimeout: x.AttemptTimeout.D(),
		TTFTTimeout:    x.TTFTTimeout.D(),
		MaxRetries:     retries,
		BackoffInitial: x.BackoffInitial.D(),
		BackoffMax:     x.BackoffMax.D(),
		MaxRetryAfter:  x.MaxRetryAfter.D(),
	}
}

// offline wraps a replay provider for evaluation.
//
// Where the data set holds no answer text (MMLU), it answers with a
// placeholder whose usage is the request's prompt tokens and the model's
// estimated output tokens, marked estimated, so that routing and cost
// proceed. Every other answer and error passes through.
//
// It also memoizes answers by request: a replay provider with realtime off
// is a pure function of the request, and a sweep asks every model the same
// questions again at every point, so the second time the tokenizing and
// lookup are skipped. The executor, the trace and the cost accounting still
// run for every call; errors are not memoized.
type offline struct {
	inner  provider.Provider
	tokens int
	memo   sync.Map // request key → *llm.Response
}

// Placeholder is the text of an estimated answer.
const Placeholder = "[sextant eval: no recorded answer text; usage estimated]"

// requestKey identifies what a replay answer depends on: the messages and
// max_tokens (n > 1 is refused before it matters).
func requestKey(req *llm.Request) string {
	var b strings.Builder
	if req.MaxTokens != nil {
		b.WriteString(strconv.Itoa(*req.MaxTokens))
	}
	for _, m := range req.Messages {
		b.WriteByte(0)
		b.WriteString(m.Role)
		b.WriteByte(0)
		b.WriteString(m.Content)
	}
	return b.String()
}

func (p *offline) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req.N != nil && *req.N > 1 {
		return p.inner.Chat(ctx, req)
	}
	key := requestKey(req)
	if v, ok := p.memo.Load(key); ok {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return copyResponse(v.(*llm.Response)), nil
	}
	resp, err := p.answer(ctx, req)
	if err != nil {
		return nil, err
	}
	p.memo.Store(key, copyResponse(resp))
	return resp, nil
}

func (p *offline) answer(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	resp, err := p.inner.Chat(ctx, req)
	var le *llm.Error
	if err == nil || !errors.As(err, &le) || le.Code != codeNoRecordedAnswer {
		return resp, err
	}
	out := p.tokens
	finish := llm.FinishStop
	if req.MaxTokens != nil && *req.MaxTokens > 0 && out > *req.MaxTokens {
		out, finish = *req.MaxTokens, llm.FinishLength
	}
	prompt := tokens.Prompt(req)
	return &llm.Response{
		ID:    "eval-estimate",
		Model: req.Model,
		Choices: []llm.Choice{{
			Message:      llm.Message{Role: llm.RoleAssistant, Content: Placeholder},
			FinishReason: finish,
		}},
		Usage: llm.Usage{PromptTokens: prompt, CompletionTokens: out, TotalTokens: prompt + out, Estimated: true},
	}, nil
}

// copyResponse copies what a caller may change: the response and its
// choices (message contents are immutable strings).
func copyResponse(r *llm.Response) *llm.Response {
	c := *r
	c.Choices = append([]llm.Choice(nil), r.Choices...)
	return &c
}

func (p *offline) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	return p.inner.ChatStream(ctx, req)
}

var _ provider.Provider = (*offline)(nil)
