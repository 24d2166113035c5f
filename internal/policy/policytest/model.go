// Package policytest is test scaffolding for policy kinds that run
// candidates through the real executor (race, hedge, best_of, cascade):
// an in-memory fake provider, an Env that is a policy.Builder over a
// fleet of fakes, a configurable gate kind, and helpers that read
// outcomes and check a trace's cost ledger. It is imported by tests only.
//
// Example:
//
//	e := policytest.NewEnv(map[string]*policytest.Model{
//		"a": {Text: "four", Delay: 10 * time.Millisecond},
//		"b": {Err: errors.New("down")},
//	}, policytest.Options{})
//	n, _ := race.New(e, "routes.r.race", json.RawMessage(`{"candidates":["a","b"]}`))
//	out, err := n.Serve(ctx, e.Call(false))
package policytest

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

// ErrBroken is the error a stream returns after Model.BreakAfter chunks.
var ErrBroken = errors.New("connection reset")

// Model is an in-memory llm provider. It answers Text after Delay, whole
// or streamed in ChunkSize-byte chunks followed by a finish chunk and a
// usage chunk, or fails with Err. When the request asks for logprobs each
// word gets logprob -0.1. The zero value answers "" at once. A Model is
// safe for concurrent use; set its fields before the first call.
type Model struct {
	Text  string
	Delay time.Duration // before the response, or before a stream opens
	Gap   time.Duration // between a stream's chunks
	Err   error         // every call fails with it (after Delay)
	// HangAfter > 0 makes Chat block until its context ends, and a stream
	// block after that many chunks until its context ends.
	HangAfter int
	// BreakAfter > 0 makes a stream fail with ErrBroken after that many
	// chunks.
	BreakAfter int
	// ChunkSize is a streamed chunk's size in bytes; 0 means 4.
	ChunkSize int
	// Reply, when set, makes a whole (not streamed) answer's text from
	// the request, e.g. for a judge.
	Reply func(*llm.Request) string

	// Calls counts Chat and ChatStream calls, Opened the streams
	// returned, Closed the streams closed (once each), Canceled the waits
	// cut short by a context, Sent the chunks streams sent. StreamLen is
	// the number of chunks of the last stream opened, usage chunk
	// included.
	Calls, Opened, Closed, Canceled, Sent, StreamLen atomic.Int64

	mu   sync.Mutex
	reqs []*llm.Request
}

// Usage is the usage the model reports: 10 prompt tokens and one
// completion token per 4 bytes of Text, plus one.
func (f *Model) Usage() llm.Usage {
	u := llm.Usage{PromptTokens: 10, CompletionTokens: len(f.Text)/4 + 1}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// LastRequest returns the last request the model received, or nil.
func (f *Model) LastRequest() *llm.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return nil
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *Model) record(req *llm.Request) {
	f.Calls.Add(1)
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
}

// wait sleeps d or until ctx ends; d <= 0 only reports ctx's error.
func (f *Model) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		f.Canceled.Add(1)
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func logprobsFor(text string) *llm.Logprobs {
	lp := &llm.Logprobs{}
	for _, w := range strings.Fields(text) {
		lp.Content = append(lp.Content, llm.TokenLogprob{Token: w, Logprob: -0.1})
	}
	return lp
}

// Chat implements llm.Provider.
func (f *Model) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	f.record(req)
	if err := f.wait(ctx, f.Delay); err != nil {
		return nil, err
	}
	if f.Err != nil {
		return nil, f.Err
	}
	if f.HangAfter > 0 {
		<-ctx.Done()
		f.Canceled.Add(1)
		return nil, ctx.Err()
	}
	text := f.Text
	if f.Reply != nil {
		text = f.Reply(req)
	}
	ch := llm.Choice{Message: llm.Message{Role: llm.RoleAssistant, Content: text}, FinishReason: llm.FinishStop}
	if req.Logprobs {
		ch.Logprobs = logprobsFor(text)
	}
	return &llm.Response{ID: "r", Model: req.Model, Choices: []llm.Choice{ch}, Usage: f.Usage()}, nil
}

// ChatStream implements llm.Provider.
func (f *Model) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	f.record(req)
	if err := f.wait(ctx, f.Delay); err != nil {
		return nil, err
	}
	if f.Err != nil {
		return nil, f.Err
	}
	size := f.ChunkSize
	if size <= 0 {
		size = 4
	}
	var chunks []*llm.Chunk
	for i := 0; i < len(f.Text); i += size {
		part := f.Text[i:min(i+size, len(f.Text))]
		cc := llm.ChunkChoice{Delta: llm.Delta{Content: part}}
		if req.Logprobs {
			cc.Logprobs = logprobsFor(part)
		}
		chunks = append(chunks, &llm.Chunk{ID: "s", Model: req.Model, Choices: []llm.ChunkChoice{cc}})
	}
	chunks = append(chunks, &llm.Chunk{ID: "s", Model: req.Model, Choices: []llm.ChunkChoice{{FinishReason: llm.FinishStop}}})
	u := f.Usage()
	chunks = append(chunks, &llm.Chunk{ID: "s", Model: req.Model, Choices: []llm.ChunkChoice{}, Usage: &u})
	f.Opened.Add(1)
	f.StreamLen.Store(int64(len(chunks)))
	return &stream{ctx: ctx, f: f, chunks: chunks}, nil
}

type stream struct {
	ctx    context.Context
	f      *Model
	chunks []*llm.Chunk
	next   int
	once   sync.Once
}

func (s *stream) Recv() (*llm.Chunk, error) {
	if s.f.HangAfter > 0 && s.next >= s.f.HangAfter {
		<-s.ctx.Done()
		s.f.Canceled.Add(1)
		return nil, s.ctx.Err()
	}
	if s.f.BreakAfter > 0 && s.next >= s.f.BreakAfter {
		return nil, ErrBroken
	}
	if s.next > 0 {
		if err := s.f.wait(s.ctx, s.f.Gap); err != nil {
			return nil, err
		}
	}
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	if s.next >= len(s.chunks) {
		return nil, io.EOF
	}
	ch := s.chunks[s.next]
	s.next++
	s.f.Sent.Add(1)
	return ch, nil
}

func (s *stream) Close() error {
	s.once.Do(func() { s.f.Closed.Add(1) })
	return nil
}
