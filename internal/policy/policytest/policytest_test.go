package policytest

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
)

func TestModelStream(t *testing.T) {
	tests := []struct {
		name       string
		m          *Model
		wantChunks int // content chunks, before the finish and usage chunks
		wantErr    error
	}{
		{"default size", &Model{Text: "abcdefghij"}, 3, nil},
		{"chunk size", &Model{Text: "abcdefghij", ChunkSize: 8}, 2, nil},
		{"empty", &Model{}, 0, nil},
		{"breaks", &Model{Text: "abcdefghij", BreakAfter: 2}, 2, ErrBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.m.ChatStream(t.Context(), &llm.Request{Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			var text string
			n := 0
			for {
				ch, err := s.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Recv: %v, want %v", err, tt.wantErr)
					}
					break
				}
				n++
				for _, c := range ch.Choices {
					text += c.Delta.Content
				}
			}
			s.Close()
			s.Close()
			want := tt.wantChunks
			if tt.wantErr == nil {
				want += 2
				if text != tt.m.Text {
					t.Errorf("text %q, want %q", text, tt.m.Text)
				}
				if int64(want) != tt.m.StreamLen.Load() {
					t.Errorf("StreamLen %d, want %d", tt.m.StreamLen.Load(), want)
				}
			}
			if n != want || tt.m.Sent.Load() != int64(want) {
				t.Errorf("got %d chunks, Sent %d, want %d", n, tt.m.Sent.Load(), want)
			}
			if tt.m.Calls.Load() != 1 || tt.m.Opened.Load() != 1 || tt.m.Closed.Load() != 1 {
				t.Errorf("calls %d, opened %d, closed %d; want 1 each", tt.m.Calls.Load(), tt.m.Opened.Load(), tt.m.Closed.Load())
			}
		})
	}
}

func TestModelChat(t *testing.T) {
	down := errors.New("down")
	tests := []struct {
		name     string
		m        *Model
		logprobs bool
		want     string
		wantErr  error
	}{
		{"text", &Model{Text: "four"}, false, "four", nil},
		{"reply", &Model{Text: "x", Reply: func(r *llm.Request) string { return "to " + r.Model }}, false, "to m", nil},
		{"error", &Model{Text: "x", Err: down}, false, "", down},
		{"logprobs", &Model{Text: "two words"}, true, "two words", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &llm.Request{Model: "m", Logprobs: tt.logprobs}
			resp, err := tt.m.Chat(t.Context(), req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Chat: %v, want %v", err, tt.wantErr)
			}
			if tt.m.LastRequest() != req {
				t.Error("LastRequest is not the request sent")
			}
			if err != nil {
				return
			}
			if got := resp.Text(); got != tt.want {
				t.Errorf("text %q, want %q", got, tt.want)
			}
			if lp := resp.Choices[0].Logprobs; (lp != nil) != tt.logprobs || (lp != nil && len(lp.Content) != 2) {
				t.Errorf("logprobs %+v, want them only when asked, one per word", lp)
			}
			if resp.Usage != tt.m.Usage() {
				t.Errorf("usage %+v, want %+v", resp.Usage, tt.m.Usage())
			}
		})
	}
}

func TestModelHangEndsWithContext(t *testing.T) {
	m := &Model{Text: "abcdefgh", HangAfter: 1}
	ctx, cancel := context.WithCancel(t.Context())
	s, err := m.ChatStream(ctx, &llm.Request{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatalf("first Recv: %v", err)
	}
	cancel()
	if _, err := s.Recv(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv after cancel: %v, want context.Canceled", err)
	}
	if _, err := m.Chat(ctx, &llm.Request{Model: "m"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Chat on a hanging model: %v, want context.Canceled", err)
	}
}
