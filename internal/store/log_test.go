package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

// closeLog closes l at the end of the test.
func closeLog(t *testing.T, l *Log) {
	t.Helper()
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

func TestLogQueueFullDropsAndGetSeesPending(t *testing.T) {
	f := newFakeStore()
	f.started = make(chan struct{}, 16)
	f.release = make(chan struct{})
	const queue = 4
	l := NewLog(f, LogOptions{Queue: queue, Batch: 1, FlushEvery: time.Hour, Logger: quiet})

	// The first record is taken by the writer, which then blocks in the
	// store; the next fill the queue; the rest do not fit.
	l.Record(Decision{RequestID: "inflight", Model: "m0"})
	<-f.started
	for i := range queue {
		l.Record(Decision{RequestID: fmt.Sprint("q", i), Model: fmt.Sprint("m", i+1)})
	}
	for i := range 3 {
		l.Record(Decision{RequestID: fmt.Sprint("over", i)})
	}
	if got := l.Dropped(); got != 3 {
		t.Errorf("Dropped = %d, want 3", got)
	}
	if got := l.Queued(); got != queue {
		t.Errorf("Queued = %d, want %d", got, queue)
	}

	tests := []struct {
		id, model string
		wantErr   error
	}{
		{"inflight", "m0", nil},
		{"q0", "m1", nil},
		{"q3", "m4", nil},
		{"over0", "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run("get "+tt.id, func(t *testing.T) {
			d, err := l.Get(t.Context(), tt.id)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Get err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && d.Model != tt.model {
				t.Errorf("Get Model = %q, want %q", d.Model, tt.model)
			}
		})
	}

	close(f.release)
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := l.Written(); got != 1+queue {
		t.Errorf("Written = %d, want %d", got, 1+queue)
	}
	for _, id := range []string{"inflight", "q0", "q3"} {
		if !f.has(id) {
			t.Errorf("%s was not written", id)
		}
	}
	if !f.closed {
		t.Error("Close did not close the store")
	}
}

func TestLogGetBeforeAndAfterWrite(t *testing.T) {
	s, _ := openTestSQLite(t)
	l := NewLog(s, LogOptions{FlushEvery: time.Hour, Logger: quiet})
	closeLog(t, l)
	want := sampleDecision("r1")
	l.Record(want)
	for _, stage := range []string{"queued", "written"} {
		d, err := l.Get(t.Context(), "r1")
		if err != nil {
			t.Fatalf("%s: Get: %v", stage, err)
		}
		if d.Model != want.Model || !d.Time.Equal(want.Time) || d.Usage != want.Usage {
			t.Errorf("%s: Get = %+v, want %+v", stage, d, want)
		}
		if err := l.Flush(t.Context()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}
	if l.Queued() != 0 || l.Written() != 1 {
		t.Errorf("Queued = %d, Written = %d; want 0, 1", l.Queued(), l.Written())
	}
	if _, err := l.Get(t.Context(), "never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown) err = %v, want ErrNotFound", err)
	}
}

func TestLogAddFeedback(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(l *Log)
		fb      Feedback
		wantErr error
	}{
		{
			name:    "unknown request",
			fb:      Feedback{RequestID: "nope", Label: "good"},
			wantErr: ErrNotFound,
		},
		{
			name:  "pending request",
			setup: func(l *Log) { l.Record(sampleDecision("r1")) },
			fb:    Feedback{RequestID: "r1", Score: ptr(1.0)},
		},
		{
			name: "written request",
			setup: func(l *Log) {
				l.Record(sampleDecision("r1"))
				if err := l.Flush(context.Background()); err != nil {
					panic(err)
				}
			},
			fb: Feedback{RequestID: "r1", Label: "good"},
		},
		{
			name:    "malformed",
			setup:   func(l *Log) { l.Record(sampleDecision("r1")) },
			fb:      Feedback{RequestID: "r1"},
			wantErr: ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTestSQLite(t)
			// FlushEvery is long so that only AddFeedback can write.
			l := NewLog(s, LogOptions{FlushEvery: time.Hour, Logger: quiet})
			closeLog(t, l)
			if tt.setup != nil {
				tt.setup(l)
			}
			err := l.AddFeedback(t.Context(), tt.fb)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("AddFeedback err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			fbs, err := l.Feedback(t.Context(), tt.fb.RequestID)
			if err != nil || len(fbs) != 1 {
				t.Fatalf("Feedback = %v, %v; want the one added", fbs, err)
			}
			if fbs[0].Time.IsZero() {
				t.Error("feedback time not set")
			}
		})
	}
}

func TestLogFeedbackOfPendingIsEmpty(t *testing.T) {
	s, _ := openTestSQLite(t)
	l := NewLog(s, LogOptions{FlushEvery: time.Hour, Logger: quiet})
	closeLog(t, l)
	l.Record(sampleDecision("r1"))
	fbs, err := l.Feedback(t.Context(), "r1")
	if err != nil || fbs == nil || len(fbs) != 0 {
		t.Errorf("Feedback(pending) = %#v, %v; want empty", fbs, err)
	}
	if _, err := l.Feedback(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Feedback(unknown) err = %v, want ErrNotFound", err)
	}
}

func TestLogCloseFlushes(t *testing.T) {
	s, path := openTestSQLite(t)
	l := NewLog(s, LogOptions{Batch: 3, FlushEvery: time.Hour, Logger: quiet})
	const n = 10
	for i := range n {
		l.Record(Decision{RequestID: fmt.Sprint("r", i)})
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if l.Written() != n || l.Dropped() != 0 {
		t.Errorf("Written = %d, Dropped = %d; want %d, 0", l.Written(), l.Dropped(), n)
	}
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for i := range n {
		if _, err := s2.Decision(t.Context(), fmt.Sprint("r", i)); err != nil {
			t.Errorf("r%d after Close: %v", i, err)
		}
	}
}

func TestLogAfterClose(t *testing.T) {
	f := newFakeStore()
	l := NewLog(f, LogOptions{Logger: quiet})
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	l.Record(Decision{RequestID: "late"})
	if l.Dropped() != 1 {
		t.Errorf("Dropped = %d, want 1", l.Dropped())
	}
	if err := l.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Flush(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush err = %v, want ErrClosed", err)
	}
	if _, err := l.Get(t.Context(), "late"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get err = %v, want ErrClosed", err)
	}
	if err := l.AddFeedback(t.Context(), Feedback{RequestID: "late", Label: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("AddFeedback err = %v, want ErrClosed", err)
	}
}

func TestLogCloseGivesUpWhenContextEnds(t *testing.T) {
	f := newFakeStore()
	f.started = make(chan struct{}, 16)
	f.release = make(chan struct{}) // never released: the store hangs
	l := NewLog(f, LogOptions{Batch: 1, FlushEvery: time.Hour, Logger: quiet})
	for i := range 3 {
		l.Record(Decision{RequestID: fmt.Sprint("r", i)})
	}
	<-f.started
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close err = %v, want context.Canceled", err)
	}
	if l.Dropped() != 3 || l.Written() != 0 {
		t.Errorf("Dropped = %d, Written = %d; want 3, 0", l.Dropped(), l.Written())
	}
	if !f.closed {
		t.Error("store not closed")
	}
}

func TestLogEmptyRequestIDDropped(t *testing.T) {
	f := newFakeStore()
	l := NewLog(f, LogOptions{Logger: quiet})
	closeLog(t, l)
	l.Record(Decision{Model: "m"})
	if l.Dropped() != 1 || l.Queued() != 0 {
		t.Errorf("Dropped = %d, Queued = %d; want 1, 0", l.Dropped(), l.Queued())
	}
}

func TestLogDuplicateRequestIDLastWins(t *testing.T) {
	f := newFakeStore()
	l := NewLog(f, LogOptions{FlushEvery: time.Hour, Logger: quiet})
	closeLog(t, l)
	l.Record(Decision{RequestID: "r1", Model: "first"})
	l.Record(Decision{RequestID: "r1", Model: "second"})
	for _, stage := range []string{"queued", "written"} {
		d, err := l.Get(t.Context(), "r1")
		if err != nil || d.Model != "second" {
			t.Errorf("%s: Get = %+v, %v; want the second record", stage, d, err)
		}
		if err := l.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLogRetries(t *testing.T) {
	tests := []struct {
		name        string
		fail        int
		attempts    int
		wantWritten uint64
		wantDropped uint64
		wantErrs    uint64
	}{
		{"succeeds after two failures", 2, 4, 3, 0, 2},
		{"gives up after every attempt", 100, 3, 0, 3, 3},
		{"one attempt", 1, 1, 0, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeStore()
				f.fail = tt.fail
				l := NewLog(f, LogOptions{FlushEvery: time.Hour, Attempts: tt.attempts, Logger: quiet})
				for i := range 3 {
					l.Record(Decision{RequestID: fmt.Sprint("r", i)})
				}
				err := l.Flush(t.Context())
				if dropped := tt.wantDropped > 0; errors.Is(err, ErrDropped) != dropped {
					t.Errorf("Flush err = %v, want dropped %v", err, dropped)
				}
				if l.Written() != tt.wantWritten || l.Dropped() != tt.wantDropped || l.WriteErrors() != tt.wantErrs {
					t.Errorf("Written, Dropped, WriteErrors = %d, %d, %d; want %d, %d, %d",
						l.Written(), l.Dropped(), l.WriteErrors(), tt.wantWritten, tt.wantDropped, tt.wantErrs)
				}
				if err := l.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func TestLogInvalidRecordLosesOnlyItself(t *testing.T) {
	f := newFakeStore()
	f.invalid["bad"] = true
	l := NewLog(f, LogOptions{FlushEvery: time.Hour, Logger: quiet})
	closeLog(t, l)
	for _, id := range []string{"a", "bad", "b"} {
		l.Record(Decision{RequestID: id})
	}
	if err := l.Flush(t.Context()); !errors.Is(err, ErrDropped) || !errors.Is(err, ErrInvalid) {
		t.Errorf("Flush err = %v, want ErrDropped and ErrInvalid", err)
	}
	if !f.has("a") || !f.has("b") || f.has("bad") {
		t.Errorf("stored a=%v b=%v bad=%v; want a and b only", f.has("a"), f.has("b"), f.has("bad"))
	}
	if l.Written() != 2 || l.Dropped() != 1 {
		t.Errorf("Written = %d, Dropped = %d; want 2, 1", l.Written(), l.Dropped())
	}
	if _, err := l.Get(t.Context(), "bad"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(dropped) err = %v, want ErrNotFound", err)
	}
}

func TestLogTimers(t *testing.T) {
	t.Run("a partial batch waits FlushEvery", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeStore()
			l := NewLog(f, LogOptions{Batch: 10, FlushEvery: time.Second, Logger: quiet})
			l.Record(Decision{RequestID: "r1"})
			time.Sleep(time.Second - time.Nanosecond)
			synctest.Wait()
			if f.has("r1") {
				t.Error("written before FlushEvery")
			}
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			if !f.has("r1") {
				t.Error("not written after FlushEvery")
			}
			if err := l.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("a full batch is written at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeStore()
			l := NewLog(f, LogOptions{Batch: 3, FlushEvery: time.Hour, Logger: quiet})
			for i := range 3 {
				l.Record(Decision{RequestID: fmt.Sprint("r", i)})
			}
			synctest.Wait()
			if l.Written() != 3 {
				t.Errorf("Written = %d, want 3 without waiting", l.Written())
			}
			if err := l.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestLogReportsDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		f := newFakeStore()
		f.fail = 100
		l := NewLog(f, LogOptions{Attempts: 1, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		l.Record(Decision{RequestID: "r1"})
		if err := l.Flush(t.Context()); !errors.Is(err, ErrDropped) {
			t.Fatalf("Flush err = %v, want ErrDropped", err)
		}
		if err := l.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, want := range []string{"records dropped", "disk on fire", "dropped_total=1"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestLogConcurrent(t *testing.T) {
	s, path := openTestSQLite(t)
	l := NewLog(s, LogOptions{Batch: 32, FlushEvery: time.Millisecond, Logger: quiet})
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			ctx := context.Background()
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				l.Record(Decision{RequestID: id, Route: "auto"})
				// Answered a moment ago: must be readable and accept feedback.
				if _, err := l.Get(ctx, id); err != nil {
					t.Errorf("Get(%s): %v", id, err)
				}
				if i%10 == 0 {
					if err := l.AddFeedback(ctx, Feedback{RequestID: id, Label: "ok"}); err != nil {
						t.Errorf("AddFeedback(%s): %v", id, err)
					}
				}
				if i%50 == 0 {
					_ = l.Queued()
					_, _ = l.Feedback(ctx, id)
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if l.Written() != writers*each || l.Dropped() != 0 {
		t.Errorf("Written = %d, Dropped = %d; want %d, 0", l.Written(), l.Dropped(), writers*each)
	}
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var decisions, feedback int
	if err := s2.db.QueryRow("SELECT (SELECT count(*) FROM decisions), (SELECT count(*) FROM feedback)").Scan(&decisions, &feedback); err != nil {
		t.Fatal(err)
	}
	if decisions != writers*each || feedback != writers*each/10 {
		t.Errorf("stored %d decisions, %d feedback; want %d, %d", decisions, feedback, writers*each, writers*each/10)
	}
}

func TestLogOptionsDefaults(t *testing.T) {
	got := LogOptions{}.withDefaults()
	if got.Queue != DefaultQueue || got.Batch != DefaultBatch || got.FlushEvery != DefaultFlushEvery ||
		got.Attempts != DefaultAttempts || got.RetryBackoff != DefaultRetryBackoff || got.Logger == nil {
		t.Errorf("defaults = %+v", got)
	}
	if got := (LogOptions{Queue: 10, Batch: 100}).withDefaults(); got.Batch != 10 {
		t.Errorf("Batch = %d, want capped at Queue (10)", got.Batch)
	}
}

// BenchmarkLogRecord measures what the request path pays per decision.
func BenchmarkLogRecord(b *testing.B) {
	ids := make([]string, 1<<12)
	for i := range ids {
		ids[i] = fmt.Sprint("req-", i)
	}
	d := sampleDecision("")
	b.Run("accepted", func(b *testing.B) {
		// The writer runs only outside the timer, emptying the queue so
		// that every record is queued: this is the cost of Record alone.
		const queue = 4096
		l := NewLog(discardStore{}, LogOptions{Queue: queue, Batch: queue, FlushEvery: time.Hour, Logger: quiet})
		defer l.Close(context.Background())
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%queue == queue-1 {
				b.StopTimer()
				if err := l.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			d.RequestID = ids[i&(len(ids)-1)]
			l.Record(d)
			i++
		}
		b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
	})
	b.Run("parallel", func(b *testing.B) {
		// Recorders race the writer; what does not fit is dropped.
		l := NewLog(discardStore{}, LogOptions{Logger: quiet})
		defer l.Close(context.Background())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			d := d
			i := 0
			for pb.Next() {
				d.RequestID = ids[i&(len(ids)-1)]
				l.Record(d)
				i++
			}
		})
		b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
	})
	b.Run("queue full", func(b *testing.B) {
		f := newFakeStore()
		f.started = make(chan struct{}, 1)
		f.release = make(chan struct{})
		l := NewLog(f, LogOptions{Queue: 1, Batch: 1, FlushEvery: time.Hour, Logger: quiet})
		defer func() {
			close(f.release)
			l.Close(context.Background())
		}()
		l.Record(Decision{RequestID: "blocks"})
		<-f.started
		l.Record(Decision{RequestID: "fills"})
		d := d
		d.RequestID = "dropped"
		b.ReportAllocs()
		for b.Loop() {
			l.Record(d)
		}
		if l.Dropped() == 0 {
			b.Fatal("nothing was dropped")
		}
	})
}

// discardStore stores nothing, instantly.
type discardStore struct{}

func (discardStore) WriteDecisions(context.Context, []Decision) error { return nil }
func (discardStore) Decision(_ context.Context, id string) (*Decision, error) {
	return nil, fmt.Errorf("decision %q: %w", id, ErrNotFound)
}
func (discardStore) AddFeedback(context.Context, Feedback) error { return ErrNotFound }
func (discardStore) Feedback(context.Context, string) ([]Feedback, error) {
	return nil, ErrNotFound
}
func (discardStore) Close() error { return nil }

// syncBuffer is an io.Writer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

var _ io.Writer = (*syncBuffer)(nil)

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
