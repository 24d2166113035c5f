package openai

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

// stream reads chat.completion.chunk events. Recv must be called from one
// goroutine at a time; Close may be called from any goroutine, at any time,
// any number of times.
type stream struct {
	p      *Provider
	body   *upstream.Body
	events *sse.Reader
	err    error // sticky: io.EOF after [DONE], or the error that ended the stream
	rl     llm.RateLimit
}

func newStream(p *Provider, body *upstream.Body) *stream {
	return &stream{p: p, body: body, events: sse.NewReader(body), rl: upstream.OpenAIRateLimit(body.Header())}
}

// RateLimit is the headroom the response's headers reported
// (llm.RateLimitReporter).
func (s *stream) RateLimit() llm.RateLimit { return s.rl }

// Recv returns the next chunk; io.EOF after data: [DONE]; an *llm.Error
// for an error event, a stream that ends without [DONE] (ClassTransient,
// code stream_truncated), a malformed chunk, or a canceled context.
func (s *stream) Recv() (*llm.Chunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.body.Closed() {
		s.err = s.p.transportError(s.body.Context(), errors.New("stream closed"), CodeStreamTruncated)
		return nil, s.err
	}
	ch, err := s.next()
	if err != nil {
		s.err = err
		if err == io.EOF {
			// The terminal event arrived: release the connection now
			// rather than waiting for the caller's Close.
			s.Close()
		}
		return nil, err
	}
	return ch, nil
}

func (s *stream) next() (*llm.Chunk, error) {
	for {
		ev, err := s.events.Next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // a clean end of the body, but no [DONE]
			}
			return nil, s.p.transportError(s.body.Context(), fmt.Errorf("reading stream: %w", err), CodeStreamTruncated)
		}
		data := strings.TrimSpace(ev.Data)
		switch {
		case data == "":
			continue
		case data == "[DONE]":
			return nil, io.EOF
		}
		var c chunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			if ev.Event == "error" {
				return nil, s.p.inbandError(errorBody{Message: data})
			}
			return nil, s.p.badResponse(fmt.Errorf("decoding stream chunk: %w", err))
		}
		if c.Error != nil {
			return nil, s.p.inbandError(*c.Error)
		}
		if ev.Event == "error" {
			var eb errorBody
			if json.Unmarshal([]byte(data), &eb) != nil {
				eb = errorBody{Message: data}
			}
			return nil, s.p.inbandError(eb)
		}
		return c.llm(), nil
	}
}

// Close cancels the upstream request and releases the connection. It always
// returns nil.
func (s *stream) Close() error { return s.body.Close() }

var _ llm.Stream = (*stream)(nil)

// Buffered implements llm.Buffered: a next chunk is already read ahead.
func (s *stream) Buffered() bool { return s.events.Buffered() }
