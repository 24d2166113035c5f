package sim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

// event is a chunk due at an offset from the start of the call.
type event struct {
	at    time.Duration
	chunk *llm.Chunk
}

// stream plays a list of events on schedule, then ends with io.EOF, or
// with tail at tailAt when tail is set (a broken stream). Recv must be
// called from one goroutine at a time; Close may be called from any
// goroutine at any time and makes a pending or later Recv return a canceled
// error.
type stream struct {
	ctx      context.Context
	cancel   context.CancelFunc
	start    time.Time
	events   []event
	next     int
	tail     error
	tailAt   time.Duration
	realtime bool
	model    string
	err      error // sticky: set once Recv has returned io.EOF or an error
	counts   *streamCounts
	ended    atomic.Bool // counted in counts; see end
	// delivered is set when Recv has returned the last chunk of a stream
	// that does not break; Close may read it from another goroutine.
	delivered atomic.Bool
}

func (s *stream) Recv() (*llm.Chunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.next == len(s.events) {
		if s.tail == nil {
			s.err = io.EOF
			s.end(endCompleted)
			return nil, s.err
		}
		if err := s.wait(s.tailAt); err != nil {
			s.err = err
			s.end(endCanceled)
			return nil, err
		}
		s.err = s.tail
		s.end(endFailed)
		return nil, s.err
	}
	ev := s.events[s.next]
	if err := s.wait(ev.at); err != nil {
		s.err = err
		s.end(endCanceled)
		return nil, err
	}
	s.next++
	if s.next == len(s.events) && s.tail == nil {
		s.delivered.Store(true)
	}
	return ev.chunk, nil
}

func (s *stream) wait(at time.Duration) error {
	if s.realtime {
		return sleepUntil(s.ctx, s.start.Add(at), s.model)
	}
	if s.ctx.Err() != nil {
		return ctxError(s.ctx, s.model)
	}
	return nil
}

// Close cancels the stream. It counts as completed when every chunk had
// been received, else as canceled (see Counts).
func (s *stream) Close() error {
	s.cancel()
	if s.delivered.Load() {
		s.end(endCompleted)
	} else {
		s.end(endCanceled)
	}
	return nil
}

// sleepUntil waits until t or until ctx is done.
func sleepUntil(ctx context.Context, t time.Time, model string) error {
	d := time.Until(t)
	if d <= 0 {
		if ctx.Err() != nil {
			return ctxError(ctx, model)
		}
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctxError(ctx, model)
	case <-timer.C:
		return nil
	}
}

// ctxError classifies the end of ctx: a deadline is an upstream timeout
// (transient), anything else is a cancel (the client or the executor went
// away; never retried, never charged to the model).
func ctxError(ctx context.Context, model string) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Code: "upstream_timeout",
			Message: "the model did not answer in time", Class: llm.ClassTransient, Model: model, Cause: err}
	}
	return &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: "client_closed_request",
		Message: "the request was canceled", Class: llm.ClassCanceled, Model: model, Cause: err}
}

var _ llm.Stream = (*stream)(nil)
