package sim

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

// TestStreamCounts drives one stream per case and checks how the sim
// counted its end.
func TestStreamCounts(t *testing.T) {
	// read reads n chunks (-1: to the end) and returns the last error.
	read := func(st llm.Stream, n int) error {
		for i := 0; n < 0 || i < n; i++ {
			if _, err := st.Recv(); err != nil {
				return err
			}
		}
		return nil
	}
	tests := []struct {
		name    string
		options string
		// use reads and closes the stream; cancel cancels its context.
		use  func(st llm.Stream, cancel context.CancelFunc)
		want Counts
	}{
		{
			name: "read to io.EOF, then closed: completed",
			use:  func(st llm.Stream, _ context.CancelFunc) { read(st, -1); st.Close() },
			want: Counts{Started: 1, Completed: 1},
		},
		{
			name: "closed mid-stream: canceled",
			use:  func(st llm.Stream, _ context.CancelFunc) { read(st, 2); st.Close(); st.Close() },
			want: Counts{Started: 1, Canceled: 1},
		},
		{
			name: "closed before any chunk: canceled",
			use:  func(st llm.Stream, _ context.CancelFunc) { st.Close() },
			want: Counts{Started: 1, Canceled: 1},
		},
		{
			name: "its context canceled while reading: canceled once",
			use:  func(st llm.Stream, cancel context.CancelFunc) { read(st, 1); cancel(); read(st, -1); st.Close() },
			want: Counts{Started: 1, Canceled: 1},
		},
		{
			name:    "a break: failed",
			options: `{"stream_break_rate":1}`,
			use:     func(st llm.Stream, _ context.CancelFunc) { read(st, -1); st.Close() },
			want:    Counts{Started: 1, Failed: 1},
		},
		{
			name: "neither read to the end nor closed: open",
			use:  func(st llm.Stream, cancel context.CancelFunc) { read(st, 1); cancel() },
			want: Counts{Started: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.options
			if opts == "" {
				opts = "{}"
			}
			s := newSim(t, withRealtimeOff(opts))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			st, err := s.ChatStream(ctx, ask("count my streams"))
			if err != nil {
				t.Fatal(err)
			}
			tt.use(st, cancel)
			if got := s.Streams(); got != tt.want {
				t.Errorf("Streams() = %+v, want %+v", got, tt.want)
			}
			if got, want := s.Streams().Open(), tt.want.Open(); got != want {
				t.Errorf("Open() = %d, want %d", got, want)
			}
		})
	}
}

// TestStreamCountsCloseAfterLastChunk: a stream closed once its last
// chunk was received, without reading io.EOF, is completed.
func TestStreamCountsCloseAfterLastChunk(t *testing.T) {
	s := newSim(t, withRealtimeOff(`{"output_tokens":5}`))
	st, err := s.ChatStream(t.Context(), ask("hello"))
	if err != nil {
		t.Fatal(err)
	}
	n := len(st.(*stream).events)
	for range n {
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if got := s.Streams(); got != (Counts{Started: 1, Completed: 1}) {
		t.Errorf("Streams() = %+v, want one completed", got)
	}
}

// TestStreamCountsRefused: calls refused before a stream opens start no
// stream.
func TestStreamCountsRefused(t *testing.T) {
	s := newSim(t, withRealtimeOff(`{"error_rate":0.5,"rate_limit_rate":0.5}`))
	for range 5 {
		if _, err := s.ChatStream(t.Context(), ask("hello")); err == nil {
			t.Fatal("ChatStream succeeded, want a refusal")
		}
	}
	if got := s.Streams(); got != (Counts{}) {
		t.Errorf("Streams() = %+v, want none", got)
	}
}

// TestStreamCountsConcurrent: Close racing Recv counts each stream once,
// and the counts add up once every stream has ended.
func TestStreamCountsConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, `{"ttft":"10ms","tokens_per_second":1000}`)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				st, err := s.ChatStream(t.Context(), ask("hello"))
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					time.AfterFunc(time.Duration(i)*time.Millisecond, func() { st.Close() })
				}
				for {
					if _, err := st.Recv(); err != nil {
						if !errors.Is(err, io.EOF) && llm.ClassOf(err) != llm.ClassCanceled {
							t.Error(err)
						}
						break
					}
				}
				st.Close()
			})
		}
		wg.Wait()
		c := s.Streams()
		if c.Started != 40 || c.Open() != 0 || c.Failed != 0 || c.Canceled < 1 || c.Completed < 20 {
			t.Errorf("Streams() = %+v, want 40 started, none open or failed, at least 20 completed", c)
		}
		if sum := (Counts{}).Add(c).Add(c); sum.Started != 80 || sum.Open() != 0 {
			t.Errorf("Add: %+v", sum)
		}
	})
}
