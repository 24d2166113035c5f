package upstream

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// Body is a streamed response body bound to its request's cancelable
// context. Read must be called from one goroutine at a time; Close may be
// called from any goroutine, at any time, any number of times.
type Body struct {
	ctx    context.Context
	cancel context.CancelFunc
	rc     io.ReadCloser
	header http.Header // the response's headers; nil from NewBody

	closed    atomic.Bool
	closeOnce sync.Once
}

// NewBody binds rc to ctx, whose cancel Close calls.
func NewBody(ctx context.Context, cancel context.CancelFunc, rc io.ReadCloser) *Body {
	return &Body{ctx: ctx, cancel: cancel, rc: rc}
}

// Read reads from the response body.
func (b *Body) Read(p []byte) (int, error) { return b.rc.Read(p) }

// Close cancels the request and releases the connection. It always returns
// nil.
func (b *Body) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.cancel()
		b.rc.Close()
	})
	return nil
}

// Header returns the response's headers (nil when b was made by NewBody
// rather than PostStream). It must not be modified.
func (b *Body) Header() http.Header { return b.header }

// Closed reports whether Close has been called.
func (b *Body) Closed() bool { return b.closed.Load() }

// Context is the request's context: it decides how a failed read is
// classified (see TransportError).
func (b *Body) Context() context.Context { return b.ctx }

var _ io.ReadCloser = (*Body)(nil)
