package cache

import (
	"errors"
	"io"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy/hold"
)

// Recorder passes a live stream through to the client while assembling the
// whole answer; when the stream ends cleanly (io.EOF) it hands the answer
// to done, once. A stream that breaks or is closed early is not handed on
// (and fail, when set, is called once instead).
type Recorder struct {
	s    llm.Stream
	a    hold.Assembler
	done func(*llm.Response)
	fail func()
	over bool
}

// Record returns s wrapped so that done gets the whole answer at its end.
func Record(s llm.Stream, done func(*llm.Response)) *Recorder {
	return &Recorder{s: s, done: done}
}

// Recv implements llm.Stream.
func (r *Recorder) Recv() (*llm.Chunk, error) {
	ch, err := r.s.Recv()
	switch {
	case err == nil:
		if !r.over {
			r.a.Add(ch)
		}
	case errors.Is(err, io.EOF):
		if !r.over {
			r.over = true
			r.done(r.a.Response())
		}
	default:
		r.abandon()
	}
	return ch, err
}

// abandon ends the recording without an answer.
func (r *Recorder) abandon() {
	if r.over {
		return
	}
	r.over = true
	if r.fail != nil {
		r.fail()
	}
}

// Close implements llm.Stream; a stream closed before its end is not
// stored.
func (r *Recorder) Close() error {
	err := r.s.Close()
	r.abandon()
	return err
}

// Buffered implements llm.Buffered.
func (r *Recorder) Buffered() bool {
	b, ok := r.s.(llm.Buffered)
	return ok && b.Buffered()
}
