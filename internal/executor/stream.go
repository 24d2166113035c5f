package executor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/tokens"
	"github.com/sextant-router/sextant/internal/trace"
)

// stream opens a streaming attempt and waits for its first chunk under the
// TTFT deadline. Everything up to that chunk is before the commit point: an
// error here lets the caller retry or fail over. The returned stream meters
// usage and cost and records the attempt in the trace exactly once, when it
// ends or is closed.
func (e *Executor) stream(ctx context.Context, c *policy.Call, t Target, r *llm.Request, try int) (*policy.Outcome, error) {
	idx, start := e.begin(c, t, try, true)
	sctx, cancel := context.WithCancel(ctx)
	var ttftExpired atomic.Bool
	timer := time.AfterFunc(e.opts.TTFTTimeout, func() { ttftExpired.Store(true); cancel() })
	obs := e.observe(t.Model.Name, start)
	fail := func(err error) (*policy.Outcome, error) {
		timer.Stop()
		cancel()
		if ttftExpired.Load() && ctx.Err() == nil {
			err = &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Code: "ttft_timeout",
				Message: "the model sent no first token in time", Class: llm.ClassTransient, Model: t.Model.Name, Cause: err}
		} else {
			err = classify(ctx, sctx, err, t.Model.Name)
		}
		finishError(c.Trace, idx, err, time.Since(start), 0)
		obs.finish(err, 0, llm.Usage{}, 0)
		return nil, err
	}
	s, err := t.Provider.ChatStream(sctx, r)
	if err != nil {
		return fail(err)
	}
	obs.rateLimit(s)
	first, err := s.Recv()
	if err != nil && !errors.Is(err, io.EOF) {
		s.Close()
		return fail(err)
	}
	if !timer.Stop() && ttftExpired.Load() {
		s.Close()
		return fail(context.DeadlineExceeded)
	}
	m := &metered{
		ctx: ctx, sctx: sctx, cancel: cancel, s: s, req: r, trace: c.Trace, idx: idx,
		start: start, ttft: time.Since(start), model: t.Model.Name, price: t.Model.Price, obs: obs,
	}
	obs.commit()
	if err != nil { // io.EOF: an empty but complete stream
		m.pendingErr = io.EOF
	} else {
		m.pending = first
	}
	return &policy.Outcome{Model: t.Model.Name, Stream: m}, nil
}

// metered wraps an upstream stream after its first chunk. Recv and Close
// must be called from one goroutine at a time; Close may follow any Recv.
type metered struct {
	ctx, sctx context.Context
	cancel    context.CancelFunc
	s         llm.Stream
	req       *llm.Request
	trace     *trace.Trace
	idx       int
	start     time.Time
	ttft      time.Duration
	model     string
	price     catalog.Price
	obs       *observer

	pending    *llm.Chunk
	pendingErr error
	done       bool
	endErr     error

	usage  *llm.Usage
	text   strings.Builder
	finish string

	once sync.Once
}

func (m *metered) Recv() (*llm.Chunk, error) {
	if m.pending != nil {
		ch := m.pending
		m.pending = nil
		m.observe(ch)
		return ch, nil
	}
	if m.pendingErr != nil {
		m.end(nil)
		m.pendingErr, m.done, m.endErr = nil, true, io.EOF
		return nil, io.EOF
	}
	if m.done {
		return nil, m.endErr
	}
	ch, err := m.s.Recv()
	if err != nil {
		m.done = true
		if errors.Is(err, io.EOF) {
			m.endErr = io.EOF
			m.end(nil)
			return nil, io.EOF
		}
		m.endErr = classify(m.ctx, m.sctx, err, m.model)
		m.end(m.endErr)
		return nil, m.endErr
	}
	m.observe(ch)
	return ch, nil
}

func (m *metered) observe(ch *llm.Chunk) {
	if ch.Usage != nil {
		u := *ch.Usage
		m.usage = &u
	}
	for _, c := range ch.Choices {
		m.text.WriteString(c.Delta.Content)
		m.text.WriteString(c.Delta.Refusal)
		for _, tc := range c.Delta.ToolCalls {
			m.text.WriteString(tc.Function.Name)
			m.text.WriteString(tc.Function.Arguments)
		}
		if c.FinishReason != "" && m.finish == "" {
			m.finish = c.FinishReason
		}
	}
}

// Close ends the stream. Closing before the terminal event records the
// attempt as canceled with the tokens seen so far, and cancels the upstream.
func (m *metered) Close() error {
	if !m.done {
		m.done = true
		m.endErr = canceled(m.ctx, m.model)
		if m.ctx.Err() == nil {
			m.endErr = &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: "stream_closed",
				Message: "the stream was closed before it ended", Class: llm.ClassCanceled, Model: m.model}
		}
		m.end(m.endErr)
	}
	err := m.s.Close()
	m.cancel()
	return err
}

// end records the attempt once: usage as the upstream reported it, or
// counted by the tokenizer when it reported none.
func (m *metered) end(err error) {
	m.once.Do(func() {
		var u llm.Usage
		if m.usage != nil && !m.usage.IsZero() {
			u = *m.usage
		} else {
			u = llm.Usage{PromptTokens: tokens.Prompt(m.req), CompletionTokens: tokens.Count(m.text.String()), Estimated: true}
			u.TotalTokens = u.PromptTokens + u.CompletionTokens
		}
		elapsed := time.Since(m.start)
		if m.obs != nil {
			m.obs.finish(err, m.ttft, u, int64(m.price.Cost(u)))
		}
		m.trace.Update(m.idx, func(a *trace.Attempt) {
			a.LatencyMS, a.TTFTMS = trace.Millis(elapsed), trace.Millis(m.ttft)
			a.Usage = u
			a.CostMicros = m.price.Cost(u)
			a.Finish = m.finish
			if err == nil {
				a.Outcome, a.Status = trace.OutcomeOK, http.StatusOK
				return
			}
			le := llm.AsError(err)
			a.Outcome, a.Status, a.ErrorClass, a.Error = trace.OutcomeError, le.Status, le.Class.String(), le.Message
			if le.Class == llm.ClassCanceled {
				a.Outcome = trace.OutcomeCanceled
			}
		})
	})
}

// Buffered implements llm.Buffered for the upstream stream underneath.
func (m *metered) Buffered() bool {
	if m.pending != nil || m.pendingErr != nil {
		return true
	}
	b, ok := m.s.(llm.Buffered)
	return ok && !m.done && b.Buffered()
}
