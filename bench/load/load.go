// Package load generates HTTP load against an OpenAI-compatible chat
// endpoint and measures latency: open-loop at a constant arrival rate, and
// closed-loop with a fixed number of workers for maximum throughput.
//
// Open loop avoids coordinated omission: request i is scheduled at start +
// i/rate whatever happened to earlier requests, it is sent as soon as the
// scheduler reaches that time (on its own goroutine), and its latency is
// measured from the scheduled time, not from when it was sent. A target
// that stalls therefore shows the whole stall in the latencies of every
// request that should have been sent during it.
package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one endpoint under test.
type Target struct {
	Name  string // e.g. "upstream", "reverseproxy", "sextant-model"
	URL   string // the chat completions URL
	Model string // the "model" the request names
}

// Mode is what kind of request is sent.
type Mode string

// The request modes.
const (
	Chat   Mode = "chat"   // a non-streamed completion
	Stream Mode = "stream" // a streamed completion with usage
)

// Body returns the request body for model in mode.
func Body(model string, mode Mode) []byte {
	extra := ""
	if mode == Stream {
		extra = `,"stream":true,"stream_options":{"include_usage":true}`
	}
	return []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"What is the capital of France?"}],"max_tokens":16` + extra + `}`)
}

// NewClient returns a keep-alive client that holds up to conns
// connections to one host and never compresses.
func NewClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr}
}

// Sample is one request's outcome. Times are from the request's start:
// the scheduled time in open loop, the send in closed loop.
type Sample struct {
	Total time.Duration // until the whole body was read
	First time.Duration // until the first event of a stream (0 for chat)
	// Gaps are the intervals between consecutive stream events, kept
	// only when asked for (the flush check).
	Gaps   []time.Duration
	Events int // data events in a stream, [DONE] included
	// Lag is how late the load generator sent an open-loop request
	// after its scheduled time; a large one means the generator itself
	// could not keep up.
	Lag time.Duration
	Err error
}

// Doer sends one request and reads the answer.
type Doer struct {
	Client   *http.Client
	Target   Target
	Mode     Mode
	KeepGaps bool
	Timeout  time.Duration // per request; default 10s
	body     []byte
	once     sync.Once
}

// Do sends one request; start is the time latencies are measured from.
func (d *Doer) Do(ctx context.Context, start time.Time) Sample {
	d.once.Do(func() { d.body = Body(d.Target.Model, d.Mode) })
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Target.URL, bytes.NewReader(d.body))
	if err != nil {
		return Sample{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.Client.Do(req)
	if err != nil {
		return Sample{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return Sample{Err: fmt.Errorf("status %d", resp.StatusCode)}
	}
	if d.Mode != Stream {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return Sample{Err: err}
		}
		return Sample{Total: time.Since(start)}
	}
	return readStream(resp.Body, start, d.KeepGaps)
}

var (
	dataPrefix = []byte("data: ")
	doneData   = []byte("[DONE]")
)

// readStream reads server-sent events until data: [DONE], noting when each
// data event arrived. A stream that ends without [DONE] is an error.
func readStream(body io.Reader, start time.Time, keepGaps bool) Sample {
	var s Sample
	br := bufio.NewReaderSize(body, 16<<10)
	var last time.Time
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && bytes.HasPrefix(line, dataPrefix) {
			now := time.Now()
			s.Events++
			if s.Events == 1 {
				s.First = now.Sub(start)
			} else if keepGaps {
				s.Gaps = append(s.Gaps, now.Sub(last))
			}
			last = now
			if bytes.Equal(bytes.TrimSpace(line[len(dataPrefix):]), doneData) {
				io.Copy(io.Discard, br)
				s.Total = time.Since(start)
				return s
			}
			if bytes.HasPrefix(line[len(dataPrefix):], []byte(`{"error"`)) {
				s.Err = fmt.Errorf("error event: %s", bytes.TrimSpace(line))
				return s
			}
		}
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			s.Err = fmt.Errorf("stream ended without [DONE] after %d events: %w", s.Events, err)
			return s
		}
	}
}

// Open sends rate requests per second for dur, open loop, after warmup
// (requests scheduled during warmup are sent but not kept). It returns the
// kept samples in schedule order and the time the measured part took
// from the first kept schedule to the last answer.
func Open(ctx context.Context, d *Doer, rate int, warmup, dur time.Duration) ([]Sample, time.Duration) {
	if rate <= 0 {
		return nil, 0
	}
	interval := time.Second / time.Duration(rate)
	skip := int(warmup / interval)
	n := skip + int(dur/interval)
	out := make([]Sample, n)
	var wg sync.WaitGroup
	begin := time.Now().Add(time.Millisecond)
	for i := 0; i < n; i++ {
		at := begin.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if ctx.Err() != nil {
			out = out[:i]
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lag := time.Since(at)
			s := d.Do(ctx, at)
			s.Lag = lag
			out[i] = s
		}()
	}
	wg.Wait()
	measured := time.Since(begin.Add(time.Duration(skip) * interval))
	if skip > len(out) {
		skip = len(out)
	}
	return out[skip:], measured
}

// Closed runs workers goroutines that each send a request as soon as the
// previous one is answered, for warmup (not kept) and then dur. It returns
// the kept samples and how long the measured part took.
func Closed(ctx context.Context, d *Doer, workers int, warmup, dur time.Duration) ([]Sample, time.Duration) {
	begin := time.Now()
	keepFrom := begin.Add(warmup)
	end := keepFrom.Add(dur)
	var (
		mu  sync.Mutex
		out []Sample
		wg  sync.WaitGroup
		cut atomic.Int64 // the last kept answer, in ns after keepFrom
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []Sample
			for ctx.Err() == nil {
				start := time.Now()
				if !start.Before(end) {
					break
				}
				s := d.Do(ctx, start)
				if start.Before(keepFrom) {
					continue
				}
				mine = append(mine, s)
				done := int64(time.Since(keepFrom))
				for {
					c := cut.Load()
					if done <= c || cut.CompareAndSwap(c, done) {
						break
					}
				}
			}
			mu.Lock()
			out = append(out, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out, time.Duration(cut.Load())
}
