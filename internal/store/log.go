package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// LogOptions tunes a Log. Zero values take the defaults.
type LogOptions struct {
	// Queue is how many records may wait to be written; Record drops
	// what does not fit. Default 4096.
	Queue int
	// Batch is the most records written in one transaction. Default 256.
	Batch int
	// FlushEvery is the longest a record waits before it is written when
	// fewer than Batch are queued. Default 200ms.
	FlushEvery time.Duration
	// Attempts is how many times a failing batch is tried before its
	// records are dropped. Default 4.
	Attempts int
	// RetryBackoff is the wait before the second attempt; it doubles for
	// each later one. Default 100ms.
	RetryBackoff time.Duration
	// Logger receives write failures and drop reports. Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults of LogOptions.
const (
	DefaultQueue        = 4096
	DefaultBatch        = 256
	DefaultFlushEvery   = 200 * time.Millisecond
	DefaultAttempts     = 4
	DefaultRetryBackoff = 100 * time.Millisecond
)

// dropReportEvery limits how often queue-full drops are logged.
const dropReportEvery = 10 * time.Second

func (o LogOptions) withDefaults() LogOptions {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	o.Batch = min(o.Batch, o.Queue)
	if o.FlushEvery <= 0 {
		o.FlushEvery = DefaultFlushEvery
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Log is the bounded, asynchronous decision log in front of a Store. The
// request path calls Record, which never blocks and never fails: records
// are queued in memory and one writer goroutine writes them in batches. A
// record the queue cannot hold, or whose write still fails after every
// attempt, is dropped and counted; the request it describes is not
// affected.
//
// Reads see queued records: Get returns a decision recorded a moment ago
// and AddFeedback accepts feedback for it. A Log owns its Store and closes
// it on Close. All methods are safe for concurrent use.
type Log struct {
	store Store
	opt   LogOptions
	log   *slog.Logger

	mu sync.Mutex
	// ring[head : head+n] (wrapping) is the queue; the record at queue
	// position i has sequence number headSeq+i.
	ring    []Decision
	head, n int
	headSeq uint64
	// inflight is the batch being written; its first record has sequence
	// number inflightSeq. Only the writer changes it, under mu; the
	// writer reads it without mu while writing.
	inflight    []Decision
	inflightSeq uint64
	// pending maps a request id to the sequence number of its latest
	// record that is queued or in flight.
	pending map[string]uint64
	closed  bool

	kick        chan struct{}   // a batch is ready; capacity 1
	flushReq    chan chan error // Flush asks the writer to write everything
	stop        chan struct{}   // closed by Close
	done        chan struct{}   // closed when the writer has returned
	ctx         context.Context // canceled when Close gives up waiting
	cancel      context.CancelFunc
	storeClosed atomic.Bool

	written     atomic.Uint64
	dropped     atomic.Uint64
	writeErrors atomic.Uint64
}

// NewLog starts a Log writing to s. The caller must Close it.
func NewLog(s Store, opts LogOptions) *Log {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	l := &Log{
		store:    s,
		opt:      opts,
		log:      opts.Logger,
		ring:     make([]Decision, opts.Queue),
		inflight: make([]Decision, 0, opts.Batch),
		pending:  make(map[string]uint64, opts.Queue),
		kick:     make(chan struct{}, 1),
		flushReq: make(chan chan error),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
	}
	go l.run()
	return l
}

// Record queues d to be written. It never blocks: when the queue is full,
// the log is closed or d has no RequestID, d is dropped and counted in
// Dropped. A zero d.Time is set to now. Record takes ownership of d: the
// caller must not change d's Labels or Trace afterwards.
func (l *Log) Record(d Decision) {
	if d.RequestID == "" {
		l.dropped.Add(1)
		return
	}
	if d.Time.IsZero() {
		d.Time = time.Now()
	}
	l.mu.Lock()
	if l.closed || l.n == len(l.ring) {
		l.mu.Unlock()
		l.dropped.Add(1)
		return
	}
	i := l.head + l.n
	if i >= len(l.ring) {
		i -= len(l.ring)
	}
	l.ring[i] = d
	l.pending[d.RequestID] = l.headSeq + uint64(l.n)
	l.n++
	ready := l.n >= l.opt.Batch
	l.mu.Unlock()
	if ready {
		select {
		case l.kick <- struct{}{}:
		default: // the writer has been kicked already
		}
	}
}

// Get returns the decision recorded for id, whether it is still queued, being
// written or already stored; an error wrapping ErrNotFound when there is
// none (never recorded, dropped, or not in the store). The result is
// read-only: it may share maps and slices with the recorded value.
func (l *Log) Get(ctx context.Context, id string) (*Decision, error) {
	l.mu.Lock()
	d, ok := l.pendingLocked(id)
	l.mu.Unlock()
	if ok {
		return &d, nil
	}
	if l.storeClosed.Load() {
		return nil, ErrClosed
	}
	return l.store.Decision(ctx, id)
}

// pendingLocked returns the queued or in-flight record of id.
func (l *Log) pendingLocked(id string) (Decision, bool) {
	seq, ok := l.pending[id]
	if !ok {
		return Decision{}, false
	}
	if seq >= l.headSeq {
		i := l.head + int(seq-l.headSeq)
		if i >= len(l.ring) {
			i -= len(l.ring)
		}
		return l.ring[i], true
	}
	if i := seq - l.inflightSeq; seq >= l.inflightSeq && i < uint64(len(l.inflight)) {
		return l.inflight[i], true
	}
	return Decision{}, false // unreachable while pending is consistent
}

func (l *Log) isPending(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.pending[id]
	return ok
}

// AddFeedback stores fb. When the decision it refers to is still queued,
// AddFeedback first flushes the queue, so feedback for a request answered a
// moment ago is accepted. It returns an error wrapping ErrNotFound when the
// decision is unknown (or was dropped), and ErrInvalid when fb is malformed.
func (l *Log) AddFeedback(ctx context.Context, fb Feedback) error {
	if err := validFeedback(&fb); err != nil {
		return err
	}
	if fb.Time.IsZero() {
		fb.Time = time.Now()
	}
	if l.isPending(fb.RequestID) {
		// A dropped record shows up as ErrNotFound below; only a canceled
		// wait or a closed log ends here.
		if err := l.Flush(ctx); err != nil && !errors.Is(err, ErrDropped) {
			return err
		}
	}
	if l.storeClosed.Load() {
		return ErrClosed
	}
	return l.store.AddFeedback(ctx, fb)
}

// Feedback returns the feedback given for id, oldest first. A decision
// that is still queued has none yet: Feedback returns an empty slice for it
// rather than ErrNotFound.
func (l *Log) Feedback(ctx context.Context, id string) ([]Feedback, error) {
	// Checked before the store is read: a record written in between is
	// then found in the store.
	wasPending := l.isPending(id)
	if l.storeClosed.Load() {
		return nil, ErrClosed
	}
	fbs, err := l.store.Feedback(ctx, id)
	if errors.Is(err, ErrNotFound) && wasPending {
		return []Feedback{}, nil
	}
	return fbs, err
}

// Flush writes every record queued before the call, and returns when they
// are stored or dropped: an error wrapping ErrDropped when some were
// dropped, ctx.Err() when ctx ends first (the records stay queued), and
// ErrClosed after Close.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	reply := make(chan error, 1)
	select {
	case l.flushReq <- reply:
	case <-l.done:
		return nil // Close drained the queue
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting records, writes what is queued and closes the
// Store. If ctx ends first, writing is abandoned, the records not yet
// written are dropped and Close returns ctx.Err() once the writer has
// stopped (which relies on the Store returning when its context is
// canceled). Calling Close again waits for the first call and returns nil.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	l.mu.Unlock()
	if already {
		<-l.done
		return nil
	}
	close(l.stop)
	var err error
	select {
	case <-l.done:
	case <-ctx.Done():
		l.cancel()
		<-l.done
		err = ctx.Err()
	}
	l.cancel()
	l.storeClosed.Store(true)
	if cerr := l.store.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("store: close: %w", cerr))
	}
	return err
}

// Written returns how many records have been stored.
func (l *Log) Written() uint64 { return l.written.Load() }

// Dropped returns how many records were lost: queue full, log closed, no
// request id, or a write that failed after every attempt.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// WriteErrors returns how many write attempts failed, retries included.
func (l *Log) WriteErrors() uint64 { return l.writeErrors.Load() }

// Queued returns how many records are waiting to be written, not counting
// the batch being written.
func (l *Log) Queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// run is the writer: it wakes when a batch is ready, every FlushEvery, on
// Flush and on Close, and writes what is queued at that moment.
func (l *Log) run() {
	defer close(l.done)
	t := time.NewTicker(l.opt.FlushEvery)
	defer t.Stop()
	var reported uint64
	lastReport := time.Now()
	for {
		select {
		case <-l.stop:
			l.drain()
			l.reportDrops(&reported)
			return
		case reply := <-l.flushReq:
			reply <- l.drain()
		case <-l.kick:
			l.drain()
		case <-t.C:
			l.drain()
		}
		if time.Since(lastReport) >= dropReportEvery {
			l.reportDrops(&reported)
			lastReport = time.Now()
		}
	}
}

// reportDrops logs the drops since the last report.
func (l *Log) reportDrops(reported *uint64) {
	d := l.dropped.Load()
	if d > *reported {
		l.log.Warn("decision log dropped records", "dropped", d-*reported, "dropped_total", d)
		*reported = d
	}
}

// drain writes the records queued when it starts, in batches, and returns
// an error wrapping ErrDropped if any of them were dropped.
func (l *Log) drain() error {
	l.mu.Lock()
	left := l.n
	l.mu.Unlock()
	dropped := 0
	var lastErr error
	for left > 0 {
		batch := l.take(min(left, l.opt.Batch))
		left -= len(batch)
		var n int
		var err error
		if l.ctx.Err() != nil {
			n, err = len(batch), l.ctx.Err() // Close gave up: drop the rest
			l.dropped.Add(uint64(n))
		} else {
			n, err = l.write(batch)
		}
		if n > 0 {
			dropped += n
			lastErr = err
		}
		l.finish()
	}
	if dropped > 0 {
		return fmt.Errorf("%w: %d of them: %w", ErrDropped, dropped, lastErr)
	}
	return nil
}

// take moves up to k records from the head of the queue to inflight.
func (l *Log) take(k int) []Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	k = min(k, l.n)
	l.inflight = l.inflight[:k]
	for j := range k {
		i := l.head + j
		if i >= len(l.ring) {
			i -= len(l.ring)
		}
		l.inflight[j] = l.ring[i]
		l.ring[i] = Decision{} // release its maps and slices
	}
	l.inflightSeq = l.headSeq
	l.head = (l.head + k) % len(l.ring)
	l.n -= k
	l.headSeq += uint64(k)
	return l.inflight
}

// finish forgets the in-flight batch once it is stored or dropped.
func (l *Log) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for j := range l.inflight {
		id := l.inflight[j].RequestID
		if seq, ok := l.pending[id]; ok && seq == l.inflightSeq+uint64(j) {
			delete(l.pending, id)
		}
	}
	clear(l.inflight)
	l.inflight = l.inflight[:0]
	if len(l.pending) == 0 {
		// Resets the map's deleted slots, which otherwise lengthen
		// probes under constant insert/delete churn.
		clear(l.pending)
	}
}

// write stores batch, retrying with backoff, and returns how many of its
// records were dropped and why.
func (l *Log) write(batch []Decision) (dropped int, err error) {
	backoff := l.opt.RetryBackoff
	attempt := 1
	for ; ; attempt++ {
		err = l.store.WriteDecisions(l.ctx, batch)
		if err == nil {
			l.written.Add(uint64(len(batch)))
			return 0, nil
		}
		l.writeErrors.Add(1)
		if errors.Is(err, ErrInvalid) {
			if len(batch) > 1 {
				return l.writeEach(batch)
			}
			break // retrying cannot help
		}
		if attempt >= l.opt.Attempts || l.ctx.Err() != nil {
			break
		}
		l.log.Warn("decision log write failed, retrying", "records", len(batch), "attempt", attempt, "err", err)
		if !l.sleep(backoff) {
			break
		}
		backoff *= 2
	}
	l.dropped.Add(uint64(len(batch)))
	l.log.Error("decision log write failed, records dropped",
		"records", len(batch), "attempts", attempt, "first_request_id", batch[0].RequestID, "err", err)
	return len(batch), err
}

// writeEach stores the records of a batch that held an invalid one, one at
// a time and without retries, so only the invalid records are lost.
func (l *Log) writeEach(batch []Decision) (dropped int, err error) {
	for i := range batch {
		werr := l.store.WriteDecisions(l.ctx, batch[i:i+1])
		if werr == nil {
			l.written.Add(1)
			continue
		}
		l.writeErrors.Add(1)
		l.dropped.Add(1)
		l.log.Error("decision log write failed, record dropped", "request_id", batch[i].RequestID, "err", werr)
		dropped++
		err = werr
	}
	return dropped, err
}

// sleep waits d, or returns false when Close has given up.
func (l *Log) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.ctx.Done():
		return false
	}
}
