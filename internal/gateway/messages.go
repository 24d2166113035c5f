package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

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
	start := time.Now()
	w.Header().Set("Request-Id", RequestID(r.Context()))
	snap := s.engine.Snapshot()
	body, le := readJSONBody(w, r, snap.File.Server.MaxBodyBytes)
	if le != nil {
		writeAnthropicError(w, le)
		return
	}
	req, err := anthropicapi.DecodeMessagesRequest(body)
	if err != nil {
		writeAnthropicError(w, llm.AsError(err))
		return
	}
	caller, le := authenticate(snap, r, req)
	if le != nil {
		writeAnthropicError(w, le)
		return
	}
	requestModel := req.Model
	in := engine.Inbound{ID: RequestID(r.Context()), Request: req, Caller: caller, Header: allowedHeaders(snap, r.Header), Start: start}
	x := s.engine.Chat(r.Context(), in)
	w.Header().Set(HeaderRoute, x.Route)
	if x.Err != nil {
		e := clientError(x.Err)
		setCost(w.Header(), x)
		writeAnthropicError(w, e)
		x.Finish(e.Status, e)
		return
	}
	w.Header().Set(HeaderModel, x.Outcome.Model)
	if x.Outcome.Stream != nil {
		s.writeMessageStream(w, r, x, requestModel)
		return
	}
	out, err := anthropicapi.EncodeMessage(x.Outcome.Response, requestModel)
	if err != nil {
		e := &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Message: "the model's answer could not be encoded", Cause: err}
		writeAnthropicError(w, e)
		x.Finish(e.Status, e)
		return
	}
	setCost(w.Header(), x)
	if r.Header.Get(HeaderTrace) == "1" {
		out = withExtension(out, extension(x))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
	x.Finish(http.StatusOK, nil)
}

// writeMessageStream streams the outcome as Anthropic's event sequence.
// As for chat streams, the headers are the commit point; after it a
// failure ends the stream with an error event and no message_stop.
func (s *Server) writeMessageStream(w http.ResponseWriter, r *http.Request, x *engine.Exchange, requestModel string) {
	st := x.Outcome.Stream
	defer st.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Trailer", HeaderCost)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := anthropicapi.NewStreamEncoder(requestModel)
	write := func(evs ...anthropicapi.Event) error {
		for _, ev := range evs {
			if _, err := w.Write(ev.Bytes()); err != nil {
				return err
			}
		}
		return rc.Flush()
	}
	status, streamErr := http.StatusOK, error(nil)
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			st.Close() // record the attempt so the final usage is known
			if err := write(enc.Finish(answerUsage(x))...); err != nil {
				status, streamErr = 499, closedByClient(r)
			}
			break
		}
		if err != nil {
			e := clientError(err)
			if errors.Is(context.Cause(r.Context()), ErrShuttingDown) {
				e = &llm.Error{Status: http.StatusServiceUnavailable, Type: llm.TypeServer, Code: "server_shutting_down",
					Message: "the server is shutting down and cut this stream off", Cause: err}
			}
			status, streamErr = e.Status, e
			if r.Context().Err() == nil || e.Status == http.StatusServiceUnavailable {
				write(enc.Error(e))
			}
			break
		}
		evs, err := enc.Chunk(ch)
		if err != nil {
			e := &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Message: "the model's stream could not be encoded", Cause: err}
			status, streamErr = e.Status, e
			write(enc.Error(e))
			break
		}
		if len(evs) > 0 && write(evs...) != nil {
			status, streamErr = 499, closedByClient(r)
			break
		}
	}
	st.Close()
	setCost(h, x)
	x.Finish(status, streamErr)
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

func closedByClient(r *http.Request) *llm.Error {
	return &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: "client_closed_request",
		Message: "the client closed the request", Class: llm.ClassCanceled, Cause: context.Cause(r.Context())}
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
