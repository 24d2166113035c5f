package upstream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
)

// Request is one JSON POST to an upstream.
type Request struct {
	Client *http.Client // required
	Model  string       // the catalog name, set on every error
	URL    string
	Body   []byte // JSON
	Accept string
	// Header sets the adapter's own headers (credentials, API version).
	// It runs after Content-Type, Accept and User-Agent are set, and may
	// be nil.
	Header func(http.Header)
	// Extra are the options' headers, set last so that they can replace
	// any header but the ones CheckHeaders refuses.
	Extra map[string]conf.Secret
	// StatusError classifies a non-2xx response from its status, its
	// headers and up to MaxErrorBody bytes of its body (which may be cut
	// short by the network). Required.
	StatusError func(resp *http.Response, body []byte) *llm.Error
}

// Post sends r under ctx and returns a 2xx response, whose body the caller
// must close; or an *llm.Error with the response closed: r.StatusError's
// for a non-2xx status, TransportError's for a failure to send or a
// canceled context.
func Post(ctx context.Context, r *Request) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return nil, TransportError(ctx, r.Model, err, CodeUpstreamUnreachable)
	}
	h := hreq.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", r.Accept)
	h.Set("User-Agent", "sextant")
	if r.Header != nil {
		r.Header(h)
	}
	for name, v := range r.Extra {
		h.Set(name, v.Reveal())
	}
	resp, err := r.Client.Do(hreq)
	if err != nil {
		return nil, TransportError(ctx, r.Model, err, CodeUpstreamUnreachable)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
	if err != nil && ctx.Err() != nil {
		return nil, TransportError(ctx, r.Model, err, CodeUpstreamUnreachable)
	}
	// A body cut short by the network still classifies by its status.
	return nil, r.StatusError(resp, data)
}

// PostStream sends r, which asks for an event stream, under a context
// derived from ctx, and returns once the upstream has answered with 2xx
// headers. Closing the returned Body cancels that context, which aborts
// the request; the caller must close it.
//
// A 2xx answer of type application/json is not a stream (an error object
// sent with 200, or a server that ignored the request to stream): inband
// classifies up to MaxErrorBody bytes of it, returning nil when it holds no
// error object, in which case the answer is a BadResponse. Errors are as
// for Post.
func PostStream(ctx context.Context, r *Request, inband func(resp *http.Response, body []byte) *llm.Error) (*Body, error) {
	sctx, cancel := context.WithCancel(ctx)
	resp, err := Post(sctx, r)
	if err != nil {
		cancel()
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		defer cancel()
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
		if err != nil {
			return nil, TransportError(sctx, r.Model, err, CodeUpstreamUnreachable)
		}
		if e := inband(resp, data); e != nil {
			return nil, e
		}
		return nil, BadResponse(r.Model, fmt.Errorf("expected an event stream, got %s", mt))
	}
	b := NewBody(sctx, cancel, resp.Body)
	b.header = resp.Header
	return b, nil
}

// ReadBody reads a 2xx body of at most limit bytes, for the catalog model
// named model. A failed read is classified by TransportError under ctx
// (the request's context) as unreachable; a longer body is a BadResponse.
func ReadBody(ctx context.Context, model string, body io.Reader, limit int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(body, int64(limit)+1))
	if err != nil {
		return nil, TransportError(ctx, model, err, CodeUpstreamUnreachable)
	}
	if len(data) > limit {
		return nil, BadResponse(model, fmt.Errorf("response body exceeds %d bytes", limit))
	}
	return data, nil
}
