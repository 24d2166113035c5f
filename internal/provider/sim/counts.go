package sim

import "sync/atomic"

// Counts are the streams one sim deployment (one catalog model and its
// upstream, i.e. one *Sim) has served, by how they ended. A stream ends
// once, at the first of these:
//
//   - Completed: Recv returned io.EOF, or the stream was closed after its
//     last chunk had been received;
//   - Canceled: the stream was closed before its last chunk, or Recv
//     returned because the stream's context ended (canceled or past its
//     deadline);
//   - Failed: Recv returned the error of a simulated break.
//
// A stream counts as ended when its reader or closer sees the end: one
// whose context ended but that nobody reads or closes stays open, which is
// what a caller that forgets to Close looks like.
type Counts struct {
	Started, Completed, Canceled, Failed int64
}

// Open returns how many streams have started and not yet ended.
func (c Counts) Open() int64 { return c.Started - c.Completed - c.Canceled - c.Failed }

// Add returns the sum of c and o, for totals over several deployments.
func (c Counts) Add(o Counts) Counts {
	return Counts{Started: c.Started + o.Started, Completed: c.Completed + o.Completed,
		Canceled: c.Canceled + o.Canceled, Failed: c.Failed + o.Failed}
}

// streamCounts is a Sim's live Counts.
type streamCounts struct {
	started, completed, canceled, failed atomic.Int64
}

// Streams returns the counts of the streams s has served so far. It is
// safe to call at any time, from any goroutine; each field is read
// atomically, so a count taken while streams are running may be a stream
// or two apart between fields.
func (s *Sim) Streams() Counts {
	c := &s.streams
	// Read the ends before the starts so that Open is never negative.
	done, canceled, failed := c.completed.Load(), c.canceled.Load(), c.failed.Load()
	return Counts{Started: c.started.Load(), Completed: done, Canceled: canceled, Failed: failed}
}

// How a stream ended.
const (
	endCompleted = iota + 1
	endCanceled
	endFailed
)

// end records how st ended, the first time only.
func (st *stream) end(how int) {
	if st.counts == nil || !st.ended.CompareAndSwap(false, true) {
		return
	}
	switch how {
	case endCompleted:
		st.counts.completed.Add(1)
	case endCanceled:
		st.counts.canceled.Add(1)
	case endFailed:
		st.counts.failed.Add(1)
	}
}
