package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/openaiapi"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// Response headers every chat completion carries.
const (
	HeaderRoute = "X-Sextant-Route"
	HeaderModel = "X-Sextant-Model"
	HeaderCost  = "X-Sextant-Cost-Usd"
	HeaderTrace = "X-Sextant-Trace" // request header: "1" returns the trace
	// HeaderCache is, on a request, "bypass" or "refresh" for the
	// response cache and, on a response, what the cache did: hit, miss
	// or bypass (absent when the route does not use the cache).
	HeaderCache   = "X-Sextant-Cache"
	HeaderSession = "X-Session-Id"
)

// traceExtension is the "sextant" member added to a response (or a final
// stream chunk) when the client sent x-sextant-trace: 1.
type traceExtension struct {
	RequestID string     `json:"request_id"`
	Route     string     `json:"route"`
	Kind      string     `json:"kind"`
	Model     string     `json:"model,omitempty"`
	CostUSD   string     `json:"cost_usd"`
	Usage     llm.Usage  `json:"usage"`
	Trace     trace.View `json:"trace"`
}

// chatCompletions serves POST /v1/chat/completions.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	s.serveChat(w, r, openaiAPI{})
}

// clientAPI is one client wire format over the shared chat pipeline.
type clientAPI interface {
	decode(body []byte) (*llm.Request, error)
	writeError(w http.ResponseWriter, e *llm.Error)
	// encode renders a whole answer; requestModel is what the client sent.
	encode(resp *llm.Response, requestModel string) ([]byte, error)
	// streamEncoder starts the encoding of one streamed answer.
	streamEncoder(x *engine.Exchange, req *llm.Request, requestModel string, wantTrace bool) streamEncoder
}

// streamEncoder turns a stream into wire frames. chunk may return nil to
// send nothing; finish is called once after the upstream's terminal event
// and the attempt has been recorded; fail renders an in-band error.
type streamEncoder interface {
	chunk(ch *llm.Chunk) ([]byte, error)
	finish() []byte
	fail(e *llm.Error) []byte
}

// serveChat is the request path shared by every client API: read and
// decode the body, authenticate, run the route, and write the answer whole
// or streamed, recording the decision once.
func (s *Server) serveChat(w http.ResponseWriter, r *http.Request, api clientAPI) {
	start := time.Now()
	snap := s.engine.Snapshot()
	body, le := readJSONBody(w, r, snap.File.Server.MaxBodyBytes)
	if le != nil {
		api.writeError(w, le)
		return
	}
	req, err := api.decode(body)
	if err != nil {
		api.writeError(w, llm.AsError(err))
		return
	}
	caller, le := authenticate(snap, r, req)
	if le != nil {
		api.writeError(w, le)
		return
	}
	if le := admit(w.Header(), snap, caller, req); le != nil {
		api.writeError(w, le)
		return
	}
	requestModel := req.Model
	in := engine.Inbound{ID: RequestID(r.Context()), Request: req, Caller: caller, Header: allowedHeaders(snap, r.Header), Start: start, Snapshot: snap}
	in.TraceID, in.ParentSpanID = traceContext(r.Context())
	in.CacheControl = r.Header.Get(HeaderCache)
	x := s.engine.Chat(r.Context(), in)
	defer account(snap, caller, x)
	w.Header().Set(HeaderRoute, x.Route)
	if x.Cache != "" {
		w.Header().Set(HeaderCache, x.Cache)
	}
	if x.Err != nil {
		e := clientError(x.Err)
		setCost(w.Header(), x)
		api.writeError(w, e)
		x.Finish(e.Status, e)
		return
	}
	w.Header().Set(HeaderModel, x.Outcome.Model)
	wantTrace := r.Header.Get(HeaderTrace) == "1"
	if x.Outcome.Stream != nil {
		s.writeStream(w, r, x, api.streamEncoder(x, req, requestModel, wantTrace))
		return
	}
	out, err := api.encode(x.Outcome.Response, requestModel)
	if err != nil {
		e := &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Message: "the model's answer could not be encoded", Cause: err}
		api.writeError(w, e)
		x.Finish(e.Status, e)
		return
	}
	setCost(w.Header(), x)
	if wantTrace {
		out = withExtension(out, extension(x))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
	x.Finish(http.StatusOK, nil)
}

// writeStream streams the outcome as server-sent events. The status line
// and headers are the commit point; after it a failure ends the stream
// with an in-band error event and no terminal event, so no client mistakes
// a broken stream for a finished one. The cost is known only at the end
// and is sent as an HTTP trailer.
func (s *Server) writeStream(w http.ResponseWriter, r *http.Request, x *engine.Exchange, enc streamEncoder) {
	st := x.Outcome.Stream
	defer st.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Trailer", HeaderCost)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	buffered, _ := st.(llm.Buffered)
	// send writes frame and flushes unless the next chunk is already read
	// ahead (then it goes out with it, saving a write per chunk); the last
	// frame always flushes.
	send := func(frame []byte, last bool) error {
		if len(frame) > 0 {
			if _, err := w.Write(frame); err != nil {
				return err
			}
		}
		if !last && buffered != nil && buffered.Buffered() {
			return nil
		}
		return rc.Flush()
	}
	status, streamErr := http.StatusOK, error(nil)
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			st.Close() // record the attempt before its usage and cost are read
			if send(enc.finish(), true) != nil {
				status, streamErr = 499, closedByClient(r)
			}
			break
		}
		if err != nil {
			e := clientError(err)
			if errors.Is(context.Cause(r.Context()), ErrShuttingDown) {
				// Cut off by shutdown, not by the client: it is still
				// listening and must learn the stream is incomplete.
				e = &llm.Error{Status: http.StatusServiceUnavailable, Type: llm.TypeServer, Code: "server_shutting_down",
					Message: "the server is shutting down and cut this stream off", Cause: err}
			}
			status, streamErr = e.Status, e
			if r.Context().Err() == nil || e.Status == http.StatusServiceUnavailable {
				send(enc.fail(e), true)
			}
			break
		}
		frame, err := enc.chunk(ch)
		if err != nil {
			e := &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Message: "the model's stream could not be encoded", Cause: err}
			status, streamErr = e.Status, e
			send(enc.fail(e), true)
			break
		}
		if send(frame, false) != nil {
			// The write can fail before the server notices the closed
			// connection and cancels the context, so ctx.Err() may still be
			// nil here: the error must not be.
			status, streamErr = 499, closedByClient(r)
			break
		}
	}
	st.Close()
	setCost(h, x)
	x.Finish(status, streamErr)
}

func closedByClient(r *http.Request) *llm.Error {
	return &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: "client_closed_request",
		Message: "the client closed the request", Class: llm.ClassCanceled, Cause: context.Cause(r.Context())}
}

// openaiAPI is the OpenAI Chat Completions wire format.
type openaiAPI struct{}

func (openaiAPI) decode(body []byte) (*llm.Request, error)       { return openaiapi.DecodeChatRequest(body) }
func (openaiAPI) writeError(w http.ResponseWriter, e *llm.Error) { writeError(w, e) }
func (openaiAPI) encode(resp *llm.Response, _ string) ([]byte, error) {
	return openaiapi.EncodeChatResponse(resp)
}

func (openaiAPI) streamEncoder(x *engine.Exchange, req *llm.Request, _ string, wantTrace bool) streamEncoder {
	return &openaiStream{x: x, includeUsage: req.IncludeUsage, wantTrace: wantTrace}
}

// openaiStream frames chunks as "data:" events ending with [DONE]; with
// the trace asked for, a last chunk with no choices carries it.
type openaiStream struct {
	x            *engine.Exchange
	includeUsage bool
	wantTrace    bool
	last         *llm.Chunk
}

func (o *openaiStream) chunk(ch *llm.Chunk) ([]byte, error) {
	o.last = ch
	data, err := openaiapi.EncodeChunk(ch, o.includeUsage)
	if err != nil || data == nil {
		return nil, err
	}
	return event(data), nil
}

func (o *openaiStream) finish() []byte {
	var out []byte
	if o.wantTrace {
		out = event(traceChunk(o.x, o.last))
	}
	return append(out, event([]byte("[DONE]"))...)
}

func (o *openaiStream) fail(e *llm.Error) []byte { return event(openaiapi.StreamErrorEvent(e)) }

// event frames data as one server-sent event.
func event(data []byte) []byte {
	buf := make([]byte, 0, len(data)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	return append(buf, "\n\n"...)
}

// traceChunk is a final chunk with no choices carrying the trace, shaped so
// that SDKs parse it as an ordinary (empty) chunk.
func traceChunk(x *engine.Exchange, last *llm.Chunk) []byte {
	ch := map[string]any{"object": "chat.completion.chunk", "choices": []any{}, "sextant": extension(x)}
	if last != nil {
		ch["id"], ch["created"], ch["model"] = last.ID, last.Created, last.Model
	}
	b, _ := json.Marshal(ch)
	return b
}

func extension(x *engine.Exchange) traceExtension {
	usage, cost := x.Totals()
	ext := traceExtension{RequestID: x.ID, Route: x.Route, Kind: x.Kind, CostUSD: cost.String(), Usage: usage, Trace: x.Trace.Snapshot()}
	if x.Outcome != nil {
		ext.Model = x.Outcome.Model
	}
	return ext
}

// withExtension adds "sextant": ext as the last member of the JSON object
// body.
func withExtension(body []byte, ext traceExtension) []byte {
	b, err := json.Marshal(ext)
	if err != nil || len(body) < 2 {
		return body
	}
	end := len(body) - 1
	for end > 0 && body[end] != '}' {
		end--
	}
	out := make([]byte, 0, len(body)+len(b)+16)
	out = append(out, body[:end]...)
	out = append(out, `,"sextant":`...)
	out = append(out, b...)
	out = append(out, body[end:]...)
	return out
}

// clientError returns err as the client sees it. A provider's status is not
// the client's: an upstream 401, 402 or 403 means Sextant's credential or
// account for that model failed, not the client's key, and an upstream 500
// is a bad gateway from where the client stands. So a provider failure (an
// error that names a model) of the auth, quota, transient or unknown class
// goes out as 502 upstream_error unless its status already is 429, 502, 503
// or 504. Caller faults, cancels and unsupported requests keep theirs.
func clientError(err error) *llm.Error {
	e := llm.AsError(err)
	if e.Model == "" {
		return e
	}
	switch e.Class {
	case llm.ClassAuth, llm.ClassQuota, llm.ClassTransient, llm.ClassUnknown:
	default:
		return e
	}
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return e
	}
	c := *e
	c.Status, c.Type = http.StatusBadGateway, llm.TypeUpstream
	if e.Class == llm.ClassAuth || e.Class == llm.ClassQuota {
		// The upstream's code (invalid_api_key, insufficient_quota) is
		// about Sextant's credentials, not the client's.
		c.Code = "upstream_error"
	}
	return &c
}

func setCost(h http.Header, x *engine.Exchange) {
	_, cost := x.Totals()
	h.Set(HeaderCost, catalog.Micros(cost).String())
}

// authenticate finds the caller. With no keys configured the gateway is
// open and callers are anonymous; with keys, a bearer token (or x-api-key)
// must match one.
func authenticate(snap *config.Snapshot, r *http.Request, req *llm.Request) (policy.Caller, *llm.Error) {
	c := policy.Caller{Session: r.Header.Get(HeaderSession), Metadata: map[string]string{}}
	for k, v := range req.Metadata {
		c.Metadata[k] = v
	}
	if len(snap.Keys) == 0 && len(snap.KeyHashes) == 0 {
		return c, nil
	}
	token := r.Header.Get("X-Api-Key")
	if auth := r.Header.Get("Authorization"); token == "" && auth != "" {
		scheme, rest, _ := strings.Cut(auth, " ")
		if strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimSpace(rest)
		}
	}
	for value, k := range snap.Keys {
		if token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(value)) == 1 {
			c.Key, c.Tier = k.Name, k.Tier
			for mk, mv := range k.Metadata {
				c.Metadata[mk] = mv
			}
			return c, nil
		}
	}
	if token != "" && len(snap.KeyHashes) > 0 {
		sum := sha256.Sum256([]byte(token))
		if k, ok := snap.KeyHashes[hex.EncodeToString(sum[:])]; ok {
			c.Key, c.Tier = k.Name, k.Tier
			for mk, mv := range k.Metadata {
				c.Metadata[mk] = mv
			}
			return c, nil
		}
	}
	return c, &llm.Error{Status: http.StatusUnauthorized, Type: llm.TypeAuthentication, Code: "invalid_api_key",
		Message: "a valid API key is required (Authorization: Bearer <key>)"}
}

func allowedHeaders(snap *config.Snapshot, h http.Header) http.Header {
	out := http.Header{}
	for _, name := range snap.File.Server.AllowedHeaders {
		if v := h.Values(name); len(v) > 0 {
			out[http.CanonicalHeaderKey(name)] = v
		}
	}
	return out
}
