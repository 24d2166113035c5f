package cache

import (
	"io"

	"github.com/sextant-router/sextant/internal/llm"
)

// Replay is a cached whole answer replayed as a stream: one chunk per
// choice carrying its whole message, then one usage chunk. The gateway's
// stream encoder decides, as for a live stream, whether the client sees the
// usage.
type Replay struct {
	chunks []*llm.Chunk
	next   int
}

// NewReplay returns the stream replaying r.
func NewReplay(r *llm.Response) *Replay {
	s := &Replay{}
	for _, c := range r.Choices {
		d := llm.Delta{Role: llm.RoleAssistant, Content: c.Message.Content, Refusal: c.Message.Refusal}
		for i, tc := range c.Message.ToolCalls {
			d.ToolCalls = append(d.ToolCalls, llm.ToolCallDelta{Index: i, ID: tc.ID, Type: tc.Type, Function: tc.Function})
		}
		s.chunks = append(s.chunks, &llm.Chunk{ID: r.ID, Created: r.Created, Model: r.Model, SystemFingerprint: r.SystemFingerprint,
			Choices: []llm.ChunkChoice{{Index: c.Index, Delta: d, FinishReason: c.FinishReason, Logprobs: c.Logprobs}}})
	}
	u := r.Usage
	s.chunks = append(s.chunks, &llm.Chunk{ID: r.ID, Created: r.Created, Model: r.Model, SystemFingerprint: r.SystemFingerprint,
		Choices: []llm.ChunkChoice{}, Usage: &u})
	return s
}

// Recv implements llm.Stream.
func (s *Replay) Recv() (*llm.Chunk, error) {
	if s.next >= len(s.chunks) {
		return nil, io.EOF
	}
	ch := s.chunks[s.next]
	s.chunks[s.next] = nil
	s.next++
	return ch, nil
}

// Close implements llm.Stream.
func (s *Replay) Close() error {
	s.next = len(s.chunks)
	return nil
}

// Buffered implements llm.Buffered: every chunk is ready at once.
func (s *Replay) Buffered() bool { return s.next < len(s.chunks) }
