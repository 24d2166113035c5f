package cache

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/llm"
)

var errReset = errors.New("connection reset")

// heldStream replays an answer once release is closed; with breakAt > 0
// it fails with errReset instead of its breakAt-th chunk.
type heldStream struct {
	release chan struct{}
	r       *Replay
	n       int
	breakAt int
}

func newHeldStream(text string, breakAt int) *heldStream {
	return &heldStream{release: make(chan struct{}), r: NewReplay(answer(text).Response), breakAt: breakAt}
}

func (s *heldStream) Recv() (*llm.Chunk, error) {
	<-s.release
	s.n++
	if s.breakAt > 0 && s.n >= s.breakAt {
		return nil, errReset
	}
	return s.r.Recv()
}

func (s *heldStream) Close() error { return s.r.Close() }

// readAll reads s to its end and closes it.
func readAll(s llm.Stream) error {
	defer s.Close()
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// TestJoinStream: one leader streams while followers wait; how the leader
// ends decides what the followers get and what is stored.
func TestJoinStream(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name string
		// end ends the lead, releasing s (the leader's upstream stream).
		end    func(t *testing.T, l *Lead, s *heldStream)
		want   string // the followers' answer; "" wants ErrLeaderFailed
		stored bool
	}{
		{
			name: "the leader's stream ends cleanly: followers get its answer",
			end: func(t *testing.T, l *Lead, s *heldStream) {
				rs := l.Record(s, "m", time.Minute, nil)
				close(s.release)
				if err := readAll(rs); err != nil {
					t.Error(err)
				}
			},
			want:   "one",
			stored: true,
		},
		{
			name: "the leader's client closes mid-stream: followers make their own call",
			end: func(t *testing.T, l *Lead, s *heldStream) {
				rs := l.Record(s, "m", time.Minute, nil)
				close(s.release)
				rs.Recv()
				rs.Close()
			},
		},
		{
			name: "the leader's stream breaks: followers make their own call",
			end: func(t *testing.T, l *Lead, s *heldStream) {
				s.breakAt = 2
				rs := l.Record(s, "m", time.Minute, nil)
				close(s.release)
				if err := readAll(rs); !errors.Is(err, errReset) {
					t.Errorf("leader's stream: %v, want the break", err)
				}
			},
		},
		{
			name: "the leader's call fails before a stream",
			end:  func(t *testing.T, l *Lead, s *heldStream) { l.Fail(); l.Fail() },
		},
		{
			name: "the leader found an entry",
			end: func(t *testing.T, l *Lead, s *heldStream) {
				l.Done(answer("found"))
				l.Fail() // only the first end counts
			},
			want: "found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(10)
			c.Remote = nil
			lead, e, err := c.JoinStream(t.Context(), "k")
			if lead == nil || e != nil || err != nil {
				t.Fatalf("first JoinStream = %v %v %v, want the lead", lead, e, err)
			}
			const followers = 8
			type got struct {
				e   *Entry
				err error
			}
			res := make(chan got, followers)
			var joined sync.WaitGroup
			for range followers {
				joined.Go(func() {
					l, e, err := c.JoinStream(t.Context(), "k")
					if l != nil {
						t.Error("a second leader while the first is in flight")
						l.Fail()
					}
					res <- got{e, err}
				})
			}
			time.Sleep(20 * time.Millisecond) // let the followers wait
			tt.end(t, lead, newHeldStream("one", 0))
			joined.Wait()
			close(res)
			var first *Entry
			for r := range res {
				if tt.want == "" {
					if !errors.Is(r.err, ErrLeaderFailed) {
						t.Errorf("follower got %v %v, want ErrLeaderFailed", r.e, r.err)
					}
					continue
				}
				if r.err != nil || r.e.Response.Text() != tt.want {
					t.Errorf("follower got %v %v, want %q", r.e, r.err, tt.want)
					continue
				}
				if first != nil && first.Response == r.e.Response {
					t.Error("two followers share one response: each must get a copy")
				}
				first = r.e
			}
			if _, ok := c.Get("k"); ok != tt.stored {
				t.Errorf("stored %v, want %v", ok, tt.stored)
			}
			// The flight is over: the next caller leads again.
			l, _, err := c.JoinStream(t.Context(), "k")
			if l == nil || err != nil {
				t.Fatalf("after the flight: %v %v, want a new lead", l, err)
			}
			l.Fail()
		})
	}
}

// TestJoinStreamFollowerContext: a follower whose context ends stops
// waiting; the leader's flight goes on and later followers still get it.
func TestJoinStreamFollowerContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	c := New(10)
	c.Remote = nil
	lead, _, _ := c.JoinStream(t.Context(), "k")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if l, e, err := c.JoinStream(ctx, "k"); l != nil || e != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("JoinStream = %v %v %v, want the context's error", l, e, err)
	}
	done := make(chan *Entry, 1)
	go func() {
		_, e, _ := c.JoinStream(t.Context(), "k")
		done <- e
	}()
	time.Sleep(10 * time.Millisecond)
	s := newHeldStream("late", 0)
	var stored *Entry
	rs := lead.Record(s, "m", time.Minute, func(e *Entry) { stored = e })
	close(s.release)
	if err := readAll(rs); err != nil {
		t.Fatal(err)
	}
	if e := <-done; e == nil || e.Response.Text() != "late" {
		t.Fatalf("later follower got %v", e)
	}
	if stored == nil || stored.Model != "m" {
		t.Fatalf("stored callback got %v", stored)
	}
}

// TestJoinStreamKeys: flights of different keys do not coalesce.
func TestJoinStreamKeys(t *testing.T) {
	c := New(10)
	a, _, _ := c.JoinStream(t.Context(), "a")
	b, _, _ := c.JoinStream(t.Context(), "b")
	if a == nil || b == nil {
		t.Fatal("two keys, want two leads")
	}
	a.Fail()
	b.Fail()
}
