package anthropicapi

import (
	"errors"
	"maps"
	"slices"

	"github.com/go-json-experiment/json"

	"github.com/sextant-router/sextant/internal/llm"
)

// Event is one server-sent event of a streamed response. Name is the SSE
// event field, which Anthropic's SDKs dispatch on; Data is one JSON object
// without line breaks, whose "type" member repeats Name.
type Event struct {
	Name string
	Data []byte
}

// Bytes returns e framed for the wire: "event: <Name>\ndata: <Data>\n\n".
func (e Event) Bytes() []byte {
	b := make([]byte, 0, len("event: \ndata: \n\n")+len(e.Name)+len(e.Data))
	b = append(b, "event: "...)
	b = append(b, e.Name...)
	b = append(b, "\ndata: "...)
	b = append(b, e.Data...)
	return append(b, "\n\n"...)
}

// Stream event names.
const (
	eventMessageStart      = "message_start"
	eventContentBlockStart = "content_block_start"
	eventContentBlockDelta = "content_block_delta"
	eventContentBlockStop  = "content_block_stop"
	eventMessageDelta      = "message_delta"
	eventMessageStop       = "message_stop"
	eventPing              = "ping"
	eventError             = "error"
)

// Ping returns a keep-alive event, {"type":"ping"}, which Anthropic's SDKs
// skip. The server may send it at any point of a stream.
func Ping() Event {
	return Event{Name: eventPing, Data: []byte(`{"type":"ping"}`)}
}

// StreamEncoder turns a stream of normalized chunks into Anthropic's event
// sequence:
//
//	message_start
//	(content_block_start content_block_delta* content_block_stop)*
//	message_delta
//	message_stop
//
// Blocks are numbered from 0 in the order they start. Text (content and
// refusal deltas alike) goes to a text block; each tool call gets a
// tool_use block, started with its id, name and an empty input {} and fed
// its argument fragments as input_json_delta events. Starting a block stops
// the one before it, so at most one block is open at a time, as Anthropic
// streams them. Only choice 0 is encoded; Anthropic's API has no n.
//
// The zero StreamEncoder is not usable; make one with NewStreamEncoder. A
// StreamEncoder is not safe for concurrent use.
type StreamEncoder struct {
	requestModel string

	started  bool
	finished bool
	id       string
	usage    *llm.Usage // the latest usage seen
	finish   string     // the latest finish reason seen

	next  int    // index of the next block
	open  *block // the open block, or nil
	tools map[int]*block
}

// block is a content block of the stream: text, or the tool call with
// upstream index tool.
type block struct {
	index   int // -1 until the block has started
	isTool  bool
	tool    int
	id      string
	name    string
	pending []byte // argument fragments that arrived before the name
}

// NewStreamEncoder returns an encoder for one streamed response.
// requestModel is the model the client asked for, written as the message's
// model; when it is empty the upstream chunk's model is written instead.
func NewStreamEncoder(requestModel string) *StreamEncoder {
	return &StreamEncoder{requestModel: requestModel, tools: make(map[int]*block)}
}

var errFinished = errors.New("anthropicapi: stream already finished")

// Chunk returns the events for one upstream chunk, possibly none.
//
// The first call emits message_start, with the message id (MessageID of
// the chunk's id), the model and the usage known so far. After that:
// non-empty text and tool-call fragments emit block events; a role-only
// chunk, an empty delta and a usage-only chunk emit nothing. Usage and the
// finish reason are remembered for Finish, so they may arrive in either
// order.
//
// A tool call's block starts once its name is known; argument fragments
// that come earlier are held back and sent right after the start.
//
// Blocks are stopped as soon as the next one starts, the shape Anthropic
// streams and the one naive clients (which track "the current block")
// expect. An upstream that interleaves the fragments of parallel tool
// calls breaks that shape: a fragment for a tool call whose block has
// already been stopped is sent as a delta at that block's index anyway.
// Accumulators that apply deltas by index and keep each block's raw input
// (the Python SDK's does) still get the right input; the Go SDK's
// Message.Accumulate replaces input that is not yet valid JSON at the
// block's stop with {}, so that call's input is lost there. No OpenAI-style
// upstream is known to interleave.
//
// Chunk returns an error for a nil chunk and after Finish or Error.
func (s *StreamEncoder) Chunk(ch *llm.Chunk) ([]Event, error) {
	if s.finished {
		return nil, errFinished
	}
	if ch == nil {
		return nil, errors.New("anthropicapi: Chunk of a nil chunk")
	}
	if ch.Usage != nil {
		u := *ch.Usage
		s.usage = &u
	}
	var evs events
	if !s.started {
		s.start(&evs, ch.ID, ch.Model)
	}
	for i := range ch.Choices {
		c := &ch.Choices[i]
		if c.Index != 0 {
			continue
		}
		if text := c.Delta.Content + c.Delta.Refusal; text != "" {
			s.text(&evs, text)
		}
		for _, td := range c.Delta.ToolCalls {
			s.toolDelta(&evs, &td)
		}
		if c.FinishReason != "" {
			s.finish = c.FinishReason
		}
	}
	return evs.list, evs.err
}

// Finish returns the events that end the stream: the starts and held-back
// arguments of tool calls still waiting for a name, the stop of the open
// block, message_delta and message_stop (preceded by message_start when no
// chunk came). usage is the final usage of the exchange; when it is nil
// the last usage a chunk carried is used. message_delta carries the stop
// reason (mapped as EncodeMessage does) and the cumulative usage, whose
// input and cache counts the SDKs take over those of message_start; with
// no usage at all it carries only output_tokens 0.
//
// The caller calls Finish once, after the upstream's terminal event; a
// stream that breaks ends with Error instead. Later calls return nil.
func (s *StreamEncoder) Finish(usage *llm.Usage) []Event {
	if s.finished {
		return nil
	}
	s.finished = true
	if usage != nil {
		u := *usage
		s.usage = &u
	}
	var evs events
	if !s.started {
		s.start(&evs, "", "")
	}
	for _, k := range slices.Sorted(maps.Keys(s.tools)) {
		if b := s.tools[k]; b.index < 0 {
			s.startTool(&evs, b)
		}
	}
	s.stopOpen(&evs)

	stop := stopReason(s.finish, len(s.tools) > 0)
	d := wireMessageDelta{Type: eventMessageDelta, Delta: wireStopDelta{StopReason: &stop}}
	if s.usage != nil {
		u := toWireUsage(s.usage)
		d.Usage = wireDeltaUsage{InputTokens: &u.InputTokens, CacheCreationInputTokens: &u.CacheCreationInputTokens,
			CacheReadInputTokens: &u.CacheReadInputTokens, OutputTokens: u.OutputTokens}
	}
	evs.add(eventMessageDelta, &d)
	evs.add(eventMessageStop, &wireType{Type: eventMessageStop})
	if evs.err != nil {
		// Unreachable: the events hold only strings and integers, and
		// invalid UTF-8 is replaced rather than rejected.
		return []Event{s.Error(&llm.Error{Message: "the response could not be encoded"})}
	}
	return evs.list
}

// Error returns the in-band error event that ends a stream that failed
// after its commit point:
//
//	event: error
//	data: {"type":"error","error":{"type":"overloaded_error","message":"..."}}
//
// The body is EncodeError's. It may come at any point, even before
// message_start; after it the stream must end, and Chunk returns an error.
func (s *StreamEncoder) Error(e *llm.Error) Event {
	s.finished = true
	return Event{Name: eventError, Data: EncodeError(e)}
}

// start emits message_start.
func (s *StreamEncoder) start(evs *events, id, model string) {
	s.started = true
	s.id = MessageID(id)
	var u wireUsage
	if s.usage != nil {
		u = toWireUsage(s.usage)
	}
	evs.add(eventMessageStart, &wireMessageStart{Type: eventMessageStart, Message: wireMessageOut{
		ID:      s.id,
		Type:    "message",
		Role:    llm.RoleAssistant,
		Model:   responseModel(s.requestModel, model),
		Content: []any{},
		Usage:   u,
	}})
}

// text emits a text delta, starting a text block unless one is open.
func (s *StreamEncoder) text(evs *events, text string) {
	if s.open == nil || s.open.isTool {
		s.stopOpen(evs)
		s.open = &block{index: s.next}
		s.next++
		evs.add(eventContentBlockStart, &wireBlockStart{Type: eventContentBlockStart, Index: s.open.index,
			ContentBlock: wireTextBlock{Type: blockText}})
	}
	evs.add(eventContentBlockDelta, &wireBlockDelta{Type: eventContentBlockDelta, Index: s.open.index,
		Delta: wireTextDelta{Type: "text_delta", Text: text}})
}

// toolDelta handles one fragment of a tool call.
func (s *StreamEncoder) toolDelta(evs *events, td *llm.ToolCallDelta) {
	b := s.tools[td.Index]
	if b == nil {
		b = &block{index: -1, isTool: true, tool: td.Index}
		s.tools[td.Index] = b
	}
	if b.id == "" {
		b.id = td.ID
	}
	if b.name == "" {
		b.name = td.Function.Name
	}
	args := td.Function.Arguments
	switch {
	case b.index < 0 && b.name == "":
		b.pending = append(b.pending, args...)
	case b.index < 0:
		b.pending = append(b.pending, args...)
		s.startTool(evs, b)
	case args != "":
		s.argsDelta(evs, b.index, args)
	}
}

// startTool starts b's block, stopping the open one, and sends the
// arguments held back for it.
func (s *StreamEncoder) startTool(evs *events, b *block) {
	s.stopOpen(evs)
	b.index = s.next
	s.next++
	s.open = b
	evs.add(eventContentBlockStart, &wireBlockStart{Type: eventContentBlockStart, Index: b.index,
		ContentBlock: wireToolUseBlock{Type: blockToolUse, ID: ToolUseID(b.id, s.id, b.tool), Name: b.name, Input: emptyInput}})
	if len(b.pending) > 0 {
		s.argsDelta(evs, b.index, string(b.pending))
		b.pending = nil
	}
}

func (s *StreamEncoder) argsDelta(evs *events, index int, args string) {
	evs.add(eventContentBlockDelta, &wireBlockDelta{Type: eventContentBlockDelta, Index: index,
		Delta: wireInputJSONDelta{Type: "input_json_delta", PartialJSON: args}})
}

// stopOpen emits content_block_stop for the open block, if any.
func (s *StreamEncoder) stopOpen(evs *events) {
	if s.open == nil {
		return
	}
	evs.add(eventContentBlockStop, &wireBlockStop{Type: eventContentBlockStop, Index: s.open.index})
	s.open = nil
}

// events collects encoded events and the first encoding error.
type events struct {
	list []Event
	err  error
}

func (evs *events) add(name string, v any) {
	if evs.err != nil {
		return
	}
	b, err := json.Marshal(v, encodeOptions)
	if err != nil {
		evs.err = err
		return
	}
	evs.list = append(evs.list, Event{Name: name, Data: b})
}

// The wire* event types fix the member order of Anthropic's stream events.

type wireType struct {
	Type string `json:"type"`
}

type wireMessageStart struct {
	Type    string         `json:"type"`
	Message wireMessageOut `json:"message"`
}

type wireBlockStart struct {
	Type         string `json:"type"`
	Index        int    `json:"index"`
	ContentBlock any    `json:"content_block"`
}

type wireBlockDelta struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
	Delta any    `json:"delta"`
}

type wireTextDelta struct {
	Type string `json:"type"` // "text_delta"
	Text string `json:"text"`
}

type wireInputJSONDelta struct {
	Type        string `json:"type"` // "input_json_delta"
	PartialJSON string `json:"partial_json"`
}

type wireBlockStop struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

type wireMessageDelta struct {
	Type  string         `json:"type"`
	Delta wireStopDelta  `json:"delta"`
	Usage wireDeltaUsage `json:"usage"`
}

type wireStopDelta struct {
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"` // always null: see doc.go
}

// wireDeltaUsage is message_delta's usage: output_tokens always, the input
// counts when known.
type wireDeltaUsage struct {
	InputTokens              *int `json:"input_tokens,omitzero"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens,omitzero"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens,omitzero"`
	OutputTokens             int  `json:"output_tokens"`
}
