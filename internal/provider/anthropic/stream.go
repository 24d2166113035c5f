package anthropic

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/upstream"
	"github.com/sextant-router/sextant/internal/sse"
)

// event is one server-sent event of a streamed message. Which members are
// set depends on Type.
type event struct {
	Type         string           `json:"type"`
	Message      *messageResponse `json:"message"`       // message_start
	Index        int              `json:"index"`         // content_block_*
	ContentBlock *responseBlock   `json:"content_block"` // content_block_start
	Delta        *eventDelta      `json:"delta"`         // content_block_delta, message_delta
	Usage        *usage           `json:"usage"`         // message_delta
	Error        *errorBody       `json:"error"`         // error
}

// eventDelta is a content_block_delta's delta (text_delta, input_json_delta,
// and types this adapter skips) or a message_delta's delta.
type eventDelta struct {
	Type        string  `json:"type"`
	Text        string  `json:"text"`
	PartialJSON string  `json:"partial_json"`
	StopReason  *string `json:"stop_reason"`
}

// toolBlock is a tool_use content block being streamed.
type toolBlock struct {
	index int             // the tool call's index among the message's tool calls
	start json.RawMessage // the input sent with content_block_start
	args  bool            // some arguments have been sent
}

// stream reads a streamed message. Recv must be called from one goroutine
// at a time; Close may be called from any goroutine, at any time, any
// number of times.
type stream struct {
	p      *Provider
	body   *upstream.Body
	events *sse.Reader
	err    error // sticky: io.EOF after message_stop, or the error that ended the stream

	// State of the message, owned by Recv.
	id, model string
	created   int64
	tokens    tokens
	sawUsage  bool
	tools     map[int]*toolBlock // by content block index
	nTools    int
	done      bool // message_stop arrived; only io.EOF remains
	rl        llm.RateLimit
}

// RateLimit is the headroom the response's headers reported
// (llm.RateLimitReporter).
func (s *stream) RateLimit() llm.RateLimit { return s.rl }

func newStream(p *Provider, body *upstream.Body) *stream {
	return &stream{p: p, body: body, events: sse.NewReader(body),
		created: p.now().Unix(), tools: map[int]*toolBlock{}, rl: upstream.AnthropicRateLimit(body.Header(), p.now())}
}

// Recv returns the next chunk; io.EOF after message_stop (and the usage
// chunk before it); an *llm.Error for an error event, a stream that ends
// without message_stop (ClassTransient, code stream_truncated), a malformed
// event, or a canceled context.
func (s *stream) Recv() (*llm.Chunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.done {
		s.err = io.EOF
		return nil, s.err
	}
	if s.body.Closed() {
		s.err = s.p.transportError(s.body.Context(), errors.New("stream closed"), CodeStreamTruncated)
		return nil, s.err
	}
	ch, err := s.next()
	if err != nil {
		s.err = err
	}
	if s.err != nil || s.done {
		// The stream is over: release the connection now rather than
		// waiting for the caller's Close.
		s.Close()
	}
	return ch, err
}

func (s *stream) next() (*llm.Chunk, error) {
	for {
		ev, err := s.events.Next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // a clean end of the body, but no message_stop
			}
			return nil, s.p.transportError(s.body.Context(), fmt.Errorf("reading stream: %w", err), CodeStreamTruncated)
		}
		data := strings.TrimSpace(ev.Data)
		if data == "" {
			continue
		}
		var e event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			if ev.Event == "error" {
				return nil, s.p.inbandError(errorBody{Message: data}, "")
			}
			return nil, s.p.badResponse(fmt.Errorf("decoding %s event: %w", cmp.Or(ev.Event, "stream"), err))
		}
		if e.Type == "" {
			e.Type = ev.Event
		}
		if ch, err := s.handle(&e); ch != nil || err != nil {
			return ch, err
		}
	}
}

// handle applies one event. It returns the chunk the event produces, or
// neither chunk nor error when the event produces none (ping, block stops,
// and event or block types this adapter skips, as the API's versioning
// policy asks of clients).
func (s *stream) handle(e *event) (*llm.Chunk, error) {
	switch e.Type {
	case "message_start":
		if m := e.Message; m != nil {
			s.id, s.model = m.ID, m.Model
			if m.Usage != nil {
				s.tokens.merge(m.Usage)
				s.sawUsage = true
			}
		}
		return s.chunk(llm.Delta{Role: llm.RoleAssistant}, ""), nil

	case "content_block_start":
		cb := e.ContentBlock
		switch {
		case cb == nil:
		case cb.Type == "text" && cb.Text != "":
			return s.chunk(llm.Delta{Content: cb.Text}, ""), nil
		case cb.Type == "tool_use":
			tb := &toolBlock{index: s.nTools, start: cb.Input}
			s.nTools++
			s.tools[e.Index] = tb
			return s.chunk(llm.Delta{ToolCalls: []llm.ToolCallDelta{{
				Index: tb.index, ID: cb.ID, Type: "function", Function: llm.FunctionCall{Name: cb.Name},
			}}}, ""), nil
		}

	case "content_block_delta":
		d := e.Delta
		switch {
		case d == nil:
		case d.Type == "text_delta" && d.Text != "":
			return s.chunk(llm.Delta{Content: d.Text}, ""), nil
		case d.Type == "input_json_delta" && d.PartialJSON != "":
			if tb := s.tools[e.Index]; tb != nil {
				tb.args = true
				return s.toolArgs(tb, d.PartialJSON), nil
			}
		}

	case "content_block_stop":
		// A tool call whose input came whole with its start (or is empty)
		// had no input_json_delta: send that input, so that its arguments
		// are always a JSON object.
		if tb := s.tools[e.Index]; tb != nil && !tb.args {
			tb.args = true
			return s.toolArgs(tb, toolArguments(tb.start)), nil
		}

	case "message_delta":
		if e.Usage != nil {
			s.tokens.merge(e.Usage)
			s.sawUsage = true
		}
		if e.Delta != nil && e.Delta.StopReason != nil {
			return s.chunk(llm.Delta{}, finishReason(e.Delta.StopReason)), nil
		}

	case "message_stop":
		s.done = true
		if !s.sawUsage {
			return nil, io.EOF
		}
		u := s.tokens.llm()
		return &llm.Chunk{ID: s.id, Created: s.created, Model: s.model, Choices: []llm.ChunkChoice{}, Usage: &u}, nil

	case "error":
		var eb errorBody
		if e.Error != nil {
			eb = *e.Error
		}
		return nil, s.p.inbandError(eb, "")
	}
	return nil, nil
}

func (s *stream) chunk(d llm.Delta, finish string) *llm.Chunk {
	return &llm.Chunk{ID: s.id, Created: s.created, Model: s.model,
		Choices: []llm.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}}
}

func (s *stream) toolArgs(tb *toolBlock, args string) *llm.Chunk {
	return s.chunk(llm.Delta{ToolCalls: []llm.ToolCallDelta{{
		Index: tb.index, Function: llm.FunctionCall{Arguments: args},
	}}}, "")
}

// Close cancels the upstream request and releases the connection. It always
// returns nil.
func (s *stream) Close() error { return s.body.Close() }

var _ llm.Stream = (*stream)(nil)
