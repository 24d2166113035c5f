package gemini

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/upstream"
	"github.com/sextant-router/sextant/internal/sse"
)

// stream reads streamGenerateContent?alt=sse: each event's data is a whole
// GenerateContentResponse holding the next piece of each candidate. The
// API sends no end marker; the stream is complete when every candidate has
// had its finishReason (or the prompt was blocked) and the body then ends.
//
// Recv must be called from one goroutine at a time; Close may be called
// from any goroutine, at any time, any number of times.
type stream struct {
	p      *Provider
	body   *upstream.Body
	events *sse.Reader
	err    error // sticky: io.EOF after a complete stream, or the error that ended it

	pending []*llm.Chunk // translated chunks not yet returned
	choices map[int]*choiceState
	blocked bool       // the prompt was blocked: the stream's only answer
	ended   bool       // the body ended after a complete answer
	usage   *llm.Usage // the latest usageMetadata, sent at the end
	id      string
	model   string
	created int64
}

// choiceState is what the stream remembers of one candidate.
type choiceState struct {
	started  bool // a chunk with the role has been sent
	calls    int  // function calls sent so far
	finished bool
}

func newStream(p *Provider, body *upstream.Body) *stream {
	return &stream{
		p: p, body: body, events: sse.NewReader(body),
		choices: map[int]*choiceState{}, model: p.upstream, created: p.now().Unix(),
	}
}

// Recv returns the next chunk: content and tool call deltas (the first
// delta of each choice carries the role), then each choice's finish chunk,
// then a usage chunk when the API reported usage, then io.EOF once the
// body has ended after every choice finished. A body that ends before
// that, or breaks, is a transient stream_truncated *llm.Error; an error
// event is classified like an HTTP error.
func (s *stream) Recv() (*llm.Chunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.body.Closed() {
		s.err = s.p.transportError(s.body.Context(), errors.New("stream closed"), CodeStreamTruncated)
		return nil, s.err
	}
	for len(s.pending) == 0 {
		if s.ended {
			s.err = io.EOF
			// The stream is complete: release the connection now rather
			// than waiting for the caller's Close.
			s.Close()
			return nil, io.EOF
		}
		if err := s.read(); err != nil {
			s.err = err
			return nil, err
		}
	}
	ch := s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	return ch, nil
}

// read consumes one event and queues its chunks. When the body has ended
// cleanly after a complete answer it sets ended and queues the usage
// chunk, if any.
func (s *stream) read() error {
	ev, err := s.events.Next()
	if err != nil {
		if err == io.EOF {
			if !s.complete() {
				return s.p.transportError(s.body.Context(),
					errors.New("stream ended before every candidate had a finishReason"), CodeStreamTruncated)
			}
			s.ended = true
			if s.usage != nil {
				s.pending = append(s.pending, s.chunk(nil, s.usage))
			}
			return nil
		}
		return s.p.transportError(s.body.Context(), fmt.Errorf("reading stream: %w", err), CodeStreamTruncated)
	}
	data := strings.TrimSpace(ev.Data)
	if data == "" {
		return nil
	}
	var r generateResponse
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return s.p.badResponse(fmt.Errorf("decoding stream event: %w", err))
	}
	if r.Error != nil {
		return s.p.inbandError(*r.Error)
	}
	if r.ResponseID != "" {
		s.id = r.ResponseID
	}
	if r.ModelVersion != "" {
		s.model = r.ModelVersion
	}
	if r.UsageMetadata != nil {
		u := r.UsageMetadata.llm()
		s.usage = &u
	}
	if len(r.Candidates) == 0 && r.blocked() && !s.blocked {
		s.blocked = true
		s.pending = append(s.pending, s.chunk([]llm.ChunkChoice{{
			Delta:        llm.Delta{Role: llm.RoleAssistant},
			FinishReason: llm.FinishContentFilter,
		}}, nil))
		return nil
	}
	var deltas, finishes []llm.ChunkChoice
	for _, c := range r.Candidates {
		st := s.choices[c.Index]
		if st == nil {
			st = &choiceState{}
			s.choices[c.Index] = st
		}
		if st.finished {
			continue // nothing may follow a finish
		}
		text, calls := c.Content.split(st.calls)
		d := llm.Delta{Content: text}
		for i, tc := range calls {
			d.ToolCalls = append(d.ToolCalls, llm.ToolCallDelta{Index: st.calls + i, ID: tc.ID, Type: tc.Type, Function: tc.Function})
		}
		st.calls += len(calls)
		lp := c.LogprobsResult.llm()
		if text != "" || len(calls) > 0 || (lp != nil && len(lp.Content) > 0) {
			if !st.started {
				d.Role, st.started = llm.RoleAssistant, true
			}
			deltas = append(deltas, llm.ChunkChoice{Index: c.Index, Delta: d, Logprobs: lp})
		}
		if c.FinishReason != "" {
			st.finished = true
			fc := llm.ChunkChoice{Index: c.Index, FinishReason: finishReason(c.FinishReason, st.calls > 0)}
			if !st.started {
				fc.Delta.Role, st.started = llm.RoleAssistant, true
			}
			finishes = append(finishes, fc)
		}
	}
	if len(deltas) > 0 {
		s.pending = append(s.pending, s.chunk(deltas, nil))
	}
	if len(finishes) > 0 {
		s.pending = append(s.pending, s.chunk(finishes, nil))
	}
	return nil
}

// complete reports whether the answer is whole: the prompt was blocked, or
// every candidate seen has finished.
func (s *stream) complete() bool {
	if s.blocked {
		return true
	}
	if len(s.choices) == 0 {
		return false
	}
	for _, st := range s.choices {
		if !st.finished {
			return false
		}
	}
	return true
}

func (s *stream) chunk(choices []llm.ChunkChoice, usage *llm.Usage) *llm.Chunk {
	if choices == nil {
		choices = []llm.ChunkChoice{}
	}
	return &llm.Chunk{ID: s.id, Created: s.created, Model: s.model, Choices: choices, Usage: usage}
}

// Close cancels the upstream request and releases the connection. It always
// returns nil.
func (s *stream) Close() error { return s.body.Close() }

var _ llm.Stream = (*stream)(nil)
