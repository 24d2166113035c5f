package bandit

import (
	"context"
	"errors"
	"io"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/hold"
)

// gatedStream passes an arm's stream through untouched while assembling
// it, and runs the node's gates on the whole answer when the stream ends
// cleanly, before that end reaches the caller (so the verdict is in the
// trace the request finishes with). Chunks are never held back.
type gatedStream struct {
	llm.Stream
	ctx   context.Context
	c     *policy.Call
	n     *Node
	model string
	asm   hold.Assembler
	done  bool
}

// Recv returns the next chunk as the arm sent it.
func (s *gatedStream) Recv() (*llm.Chunk, error) {
	ch, err := s.Stream.Recv()
	if err == nil {
		if ch != nil && !s.done {
			s.asm.Add(ch)
		}
		return ch, nil
	}
	if errors.Is(err, io.EOF) && !s.done {
		s.done = true
		s.n.judge(s.ctx, s.c, s.model, s.asm.Response())
	}
	s.done = true
	return ch, err
}

// Buffered forwards the arm's stream's answer when it has one.
func (s *gatedStream) Buffered() bool {
	b, ok := s.Stream.(llm.Buffered)
	return ok && b.Buffered()
}
