// Package hold holds a streamed answer back while gates judge it: an
// Assembler folds chunks into a whole llm.Response for the gates, and a
// Replay hands the client the held chunks, then the rest of the stream.
// Cascades and races share it.
package hold

import (
	"errors"
	"io"
	"strings"

	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/llm"
)

// Assembler builds a whole llm.Response from a stream's chunks, so that
// gates can judge a held-back stream (or its prefix) as they judge a whole
// answer. It is used by one goroutine.
type Assembler struct {
	id, model, fingerprint string
	created                int64
	choices                []choiceParts
	usage                  *llm.Usage
	// chars counts the text received over every choice (content, refusal
	// and tool-call arguments), for the prefix check interval.
	chars int
}

type choiceParts struct {
	content, refusal strings.Builder
	tools            []llm.ToolCall
	finish           string
	logprobs         *llm.Logprobs
}

// Add folds one chunk into the answer.
func (a *Assembler) Add(ch *llm.Chunk) {
	if a.id == "" {
		a.id = ch.ID
	}
	if a.model == "" {
		a.model = ch.Model
	}
	if a.created == 0 {
		a.created = ch.Created
	}
	if a.fingerprint == "" {
		a.fingerprint = ch.SystemFingerprint
	}
	if ch.Usage != nil {
		u := *ch.Usage
		a.usage = &u
	}
	for i := range ch.Choices {
		cc := &ch.Choices[i]
		if cc.Index < 0 || cc.Index > maxChoices {
			continue // not a choice any client asked for
		}
		for len(a.choices) <= cc.Index {
			a.choices = append(a.choices, choiceParts{})
		}
		p := &a.choices[cc.Index]
		p.content.WriteString(cc.Delta.Content)
		p.refusal.WriteString(cc.Delta.Refusal)
		a.chars += len(cc.Delta.Content) + len(cc.Delta.Refusal)
		for _, td := range cc.Delta.ToolCalls {
			if td.Index < 0 || td.Index > maxChoices {
				continue
			}
			for len(p.tools) <= td.Index {
				p.tools = append(p.tools, llm.ToolCall{})
			}
			tc := &p.tools[td.Index]
			if td.ID != "" {
				tc.ID = td.ID
			}
			if td.Type != "" {
				tc.Type = td.Type
			}
			tc.Function.Name += td.Function.Name
			tc.Function.Arguments += td.Function.Arguments
			a.chars += len(td.Function.Arguments)
		}
		if cc.FinishReason != "" {
			p.finish = cc.FinishReason
		}
		if cc.Logprobs != nil {
			if p.logprobs == nil {
				p.logprobs = &llm.Logprobs{}
			}
			p.logprobs.Content = append(p.logprobs.Content, cc.Logprobs.Content...)
			p.logprobs.Refusal = append(p.logprobs.Refusal, cc.Logprobs.Refusal...)
		}
	}
}

// Chars returns how much text has arrived over every choice (content,
// refusal and tool-call arguments), in bytes.
func (a *Assembler) Chars() int { return a.chars }

// maxChoices bounds the choice and tool-call indexes an upstream may use,
// so a hostile index cannot make the Assembler allocate without limit.
const maxChoices = 1024

// Response returns the answer received so far. The returned value shares
// nothing mutable with the Assembler except the logprob slices, which
// are only appended to.
func (a *Assembler) Response() *llm.Response {
	r := &llm.Response{ID: a.id, Created: a.created, Model: a.model, SystemFingerprint: a.fingerprint,
		Choices: make([]llm.Choice, len(a.choices))}
	if a.usage != nil {
		r.Usage = *a.usage
	}
	for i := range a.choices {
		p := &a.choices[i]
		ch := llm.Choice{Index: i, FinishReason: p.finish, Message: llm.Message{
			Role: llm.RoleAssistant, Content: p.content.String(), Refusal: p.refusal.String(),
		}}
		if len(p.tools) > 0 {
			ch.Message.ToolCalls = append([]llm.ToolCall(nil), p.tools...)
		}
		if p.logprobs != nil {
			lp := *p.logprobs
			ch.Logprobs = &lp
		}
		r.Choices[i] = ch
	}
	return r
}

// Replay is the stream the client gets for a held-back answer: the chunks
// received while the gates judged, exactly as they arrived, then — when the
// gates accepted a prefix — the rest of the upstream stream live. The
// upstream's usage and cost were recorded by the executor's stream, which
// Replay only reads, so they are counted once. Recv and Close must be
// called from one goroutine at a time, as for any llm.Stream.
type Replay struct {
	held []*llm.Chunk
	next int
	rest llm.Stream // nil when the upstream stream was read to its end
	// client is the request as the client sent it: what gates added to
	// the tier's request (choices, logprobs) is stripped from each chunk.
	client *llm.Request
	done   bool
}

// NewReplay returns the stream replaying held, then rest (nil when the
// upstream stream was read to its end), with what was added to the
// request beyond client stripped from every chunk.
func NewReplay(held []*llm.Chunk, rest llm.Stream, client *llm.Request) *Replay {
	return &Replay{held: held, rest: rest, client: client}
}

func (r *Replay) Recv() (*llm.Chunk, error) {
	for {
		if r.done {
			return nil, io.EOF
		}
		var ch *llm.Chunk
		if r.next < len(r.held) {
			ch = r.held[r.next]
			r.held[r.next] = nil // let the GC have what was sent
			r.next++
		} else if r.rest != nil {
			var err error
			if ch, err = r.rest.Recv(); err != nil {
				return nil, err
			}
		} else {
			return nil, io.EOF
		}
		out := gate.StripChunk(r.client, ch)
		if out != ch && len(out.Choices) == 0 && out.Usage == nil {
			continue // only the delta of a choice the client did not ask for
		}
		return out, nil
	}
}

// Close closes the live rest of the upstream stream, if any; it is safe to
// call more than once.
func (r *Replay) Close() error {
	r.done = true
	r.held = nil
	if r.rest != nil {
		return r.rest.Close()
	}
	return nil
}

// Buffered implements llm.Buffered: held chunks are ready at once.
func (r *Replay) Buffered() bool {
	if r.done {
		return false
	}
	if r.next < len(r.held) {
		return true
	}
	b, ok := r.rest.(llm.Buffered)
	return ok && b.Buffered()
}

var (
	_ llm.Stream   = (*Replay)(nil)
	_ llm.Buffered = (*Replay)(nil)
)

// Collect reads s to its end and closes it, returning the chunks as they
// arrived and the whole answer. On an error s is closed too (a metered
// stream records its attempt once either way).
func Collect(s llm.Stream) ([]*llm.Chunk, *llm.Response, error) {
	defer s.Close()
	var asm Assembler
	held := []*llm.Chunk{}
	for {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return held, asm.Response(), nil
		}
		if err != nil {
			return nil, nil, err
		}
		held = append(held, ch)
		asm.Add(ch)
	}
}
