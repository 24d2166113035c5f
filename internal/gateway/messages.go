package gateway

import (
	"fmt"
	"net/http"

	"github.com/sextant-router/sextant/internal/anthropicapi"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/trace"
)

// messages serves POST /v1/messages, Anthropic's Messages API, over the
// same routes, models and executor as chat completions: an application
// written against the Anthropic SDK can use any route and any provider.
// Errors have Anthropic's shape; responses carry the same x-sextant-*
// headers (the cost as a trailer on streams) and a request-id header, which
// the Anthropic SDKs quote in their errors. With x-sextant-trace: 1 a whole
// message gains the "sextant" member; a stream's trace is at
// GET /v1/decisions/{id}.
func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Request-Id", RequestID(r.Context()))
	s.serveChat(w, r, anthropicAPI{})
}

// anthropicAPI is Anthropic's Messages wire format.
type anthropicAPI struct{}

func (anthropicAPI) decode(body []byte) (*llm.Request, error) {
	return anthropicapi.DecodeMessagesRequest(body)
}
func (anthropicAPI) writeError(w http.ResponseWriter, e *llm.Error) { writeAnthropicError(w, e) }
func (anthropicAPI) encode(resp *llm.Response, requestModel string) ([]byte, error) {
	return anthropicapi.EncodeMessage(resp, requestModel)
}

func (anthropicAPI) streamEncoder(x *engine.Exchange, _ *llm.Request, requestModel string, _ bool) streamEncoder {
	return &anthropicStream{x: x, enc: anthropicapi.NewStreamEncoder(requestModel)}
}

// anthropicStream frames chunks as Anthropic's event sequence, message_start
// to message_stop.
type anthropicStream struct {
	x   *engine.Exchange
	enc *anthropicapi.StreamEncoder
}

func (a *anthropicStream) chunk(ch *llm.Chunk) ([]byte, error) {
	evs, err := a.enc.Chunk(ch)
	return frames(evs), err
}

func (a *anthropicStream) finish() []byte { return frames(a.enc.Finish(answerUsage(a.x))) }

func (a *anthropicStream) fail(e *llm.Error) []byte { return a.enc.Error(e).Bytes() }

func frames(evs []anthropicapi.Event) []byte {
	var out []byte
	for _, ev := range evs {
		out = append(out, ev.Bytes()...)
	}
	return out
}

// answerUsage is the usage of the attempt that answered (the executor's
// count when the upstream reported none), or nil.
func answerUsage(x *engine.Exchange) *llm.Usage {
	attempts := x.Trace.Snapshot().Attempts
	for i := len(attempts) - 1; i >= 0; i-- {
		if a := attempts[i]; a.Model == x.Outcome.Model && a.Outcome == trace.OutcomeOK {
			return &a.Usage
		}
	}
	return nil
}

// writeAnthropicError writes e in Anthropic's error shape.
func writeAnthropicError(w http.ResponseWriter, e *llm.Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if e.RetryAfter > 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == 529) {
		w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Seconds()+0.999)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(anthropicapi.EncodeError(e))
}
