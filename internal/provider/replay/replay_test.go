package replay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/tokens"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	strong = "gpt-4-1106-preview"
	weak   = "mistralai/Mixtral-8x7B-Instruct-v0.1"
)

func newReplay(t *testing.T, upstream, options string) *Replay {
	t.Helper()
	p, err := New(provider.Config{Model: "m", Upstream: upstream, Options: json.RawMessage(options), OptionsPath: "models[0].options"})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*Replay)
}

// demoRecord returns the first demo record of ds.
func demoRecord(t *testing.T, ds string) *dataset.Record {
	t.Helper()
	recs := dataset.Demo()
	for i := range recs {
		if recs[i].Dataset == ds {
			return &recs[i]
		}
	}
	t.Fatalf("no %s record in the demo data", ds)
	return nil
}

func user(s string) llm.Message { return llm.Message{Role: llm.RoleUser, Content: s} }

func ptr[T any](v T) *T { return &v }

func TestRegistered(t *testing.T) {
	if _, ok := provider.Lookup("replay"); !ok {
		t.Fatal("replay is not registered")
	}
}

func TestNewConfig(t *testing.T) {
	dir := t.TempDir()
	line := `{"id":"x/1","dataset":"x","category":"x","prompt":[{"role":"user","content":"hi"}],"models":{"local":{"quality":1,"response":["hello"]}},"source":{}}`
	if err := os.WriteFile(filepath.Join(dir, "data.jsonl"), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte(line+"\n{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		upstream string
		options  string
		wantErr  string
		check    func(t *testing.T, p *Replay)
	}{
		{name: "defaults", upstream: strong, options: `{"dataset":"builtin:demo"}`, check: func(t *testing.T, p *Replay) {
			if p.ttft != DefaultTTFT || p.perToken != time.Second/DefaultTokensPerSecond || !p.realtime || p.recordModel != strong {
				t.Errorf("got ttft %v, per token %v, realtime %v, record model %q", p.ttft, p.perToken, p.realtime, p.recordModel)
			}
		}},
		{name: "all options", upstream: "gpt-4", options: `{"dataset":"builtin:demo","record_model":"` + weak + `","ttft":"1s","tokens_per_second":4,"realtime":false}`,
			check: func(t *testing.T, p *Replay) {
				if p.ttft != time.Second || p.perToken != 250*time.Millisecond || p.realtime || p.recordModel != weak {
					t.Errorf("got ttft %v, per token %v, realtime %v, record model %q", p.ttft, p.perToken, p.realtime, p.recordModel)
				}
			}},
		{name: "file relative to the config", upstream: "local", options: `{"dataset":"data.jsonl"}`, check: func(t *testing.T, p *Replay) {
			if p.index.Len() != 1 {
				t.Errorf("indexed %d records, want 1", p.index.Len())
			}
		}},
		{name: "directory", upstream: "local", options: `{"dataset":"."}`, wantErr: "bad.jsonl:2:"},
		{name: "no options", upstream: strong, options: ``, wantErr: "models[0].options.dataset: required"},
		{name: "no dataset", upstream: strong, options: `{"ttft":"1s"}`, wantErr: "models[0].options.dataset: required"},
		{name: "unknown field", upstream: strong, options: `{"dataset":"builtin:demo","speed":3}`, wantErr: "models[0].options.speed: unknown field"},
		{name: "bad ttft", upstream: strong, options: `{"dataset":"builtin:demo","ttft":"soon"}`, wantErr: `models[0].options.ttft: invalid duration "soon"`},
		{name: "zero rate", upstream: strong, options: `{"dataset":"builtin:demo","tokens_per_second":0}`, wantErr: "models[0].options.tokens_per_second: must be between 0.001 and 1e+06, got 0"},
		{name: "ttft too long", upstream: strong, options: `{"dataset":"builtin:demo","ttft":"2h"}`, wantErr: "models[0].options.ttft: must not exceed 1h0m0s"},
		{name: "rate not a number", upstream: strong, options: `{"dataset":"builtin:demo","tokens_per_second":"fast"}`, wantErr: "models[0].options.tokens_per_second: expected a number"},
		{name: "unknown record model", upstream: "gpt-4", options: `{"dataset":"builtin:demo"}`,
			wantErr: `models[0].options.record_model: model "gpt-4" has no records in builtin:demo (record_model defaults to the upstream name); it has: ` + strong + ", " + weak},
		{name: "no model name at all", upstream: "", options: `{"dataset":"builtin:demo"}`, wantErr: "models[0].options.record_model: required"},
		{name: "missing file", upstream: strong, options: `{"dataset":"nope.jsonl"}`, wantErr: "models[0].options.dataset: stat " + filepath.Join(dir, "nope.jsonl")},
		{name: "bad line", upstream: "local", options: `{"dataset":"bad.jsonl"}`, wantErr: "models[0].options.dataset: " + filepath.Join(dir, "bad.jsonl") + ":2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(provider.Config{Model: "m", Upstream: tt.upstream, Options: json.RawMessage(tt.options), OptionsPath: "models[0].options", BaseDir: dir})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p.(*Replay))
		})
	}
}

func TestChat(t *testing.T) {
	gsm := demoRecord(t, "gsm8k")
	mt := demoRecord(t, "mt_bench")
	mmlu := demoRecord(t, "mmlu")
	p := newReplay(t, strong, `{"dataset":"builtin:demo","realtime":false}`)
	wk := newReplay(t, "mixtral", `{"dataset":"builtin:demo","record_model":"`+weak+`","realtime":false}`)

	tests := []struct {
		name     string
		p        *Replay
		req      *llm.Request
		want     string
		finish   string
		wantCode string
		status   int
	}{
		{name: "single turn", p: p, req: &llm.Request{Messages: []llm.Message{user(gsm.Prompt[0].Content)}},
			want: gsm.Models[strong].Response[0], finish: "stop"},
		{name: "other record model", p: wk, req: &llm.Request{Messages: []llm.Message{user(gsm.Prompt[0].Content)}},
			want: gsm.Models[weak].Response[0], finish: "stop"},
		{name: "system message and re-flowed whitespace", p: p, req: &llm.Request{Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "You are helpful."}, user("  " + strings.Join(strings.Fields(gsm.Prompt[0].Content), "\n") + "\n")}},
			want: gsm.Models[strong].Response[0], finish: "stop"},
		{name: "mt-bench first turn", p: p, req: &llm.Request{Messages: []llm.Message{user(mt.Prompt[0].Content)}},
			want: mt.Models[strong].Response[0], finish: "stop"},
		{name: "mt-bench second turn after another model's answer", p: p, req: &llm.Request{Messages: []llm.Message{
			user(mt.Prompt[0].Content), {Role: llm.RoleAssistant, Content: "something else"}, user(mt.Prompt[1].Content)}},
			want: mt.Models[strong].Response[1], finish: "stop"},
		{name: "max tokens", p: p, req: &llm.Request{Messages: []llm.Message{user(gsm.Prompt[0].Content)}, MaxTokens: ptr(5)},
			want: "", finish: "length"},
		{name: "unknown prompt", p: p, req: &llm.Request{Messages: []llm.Message{user("What is the capital of France?")}},
			wantCode: "prompt_not_recorded", status: 404},
		{name: "no user message", p: p, req: &llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: gsm.Prompt[0].Content}}},
			wantCode: "prompt_not_recorded", status: 404},
		{name: "no recorded text", p: p, req: &llm.Request{Messages: []llm.Message{user(mmlu.Prompt[0].Content)}},
			wantCode: "no_recorded_answer", status: 404},
		{name: "several choices", p: p, req: &llm.Request{Messages: []llm.Message{user(gsm.Prompt[0].Content)}, N: ptr(2)},
			wantCode: "unsupported_parameter", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.p.Chat(context.Background(), tt.req)
			if tt.status != 0 {
				var le *llm.Error
				if !errors.As(err, &le) {
					t.Fatalf("err = %v, want an *llm.Error", err)
				}
				if le.Status != tt.status || le.Code != tt.wantCode || le.Class != llm.ClassUnsupported || le.Model != "m" {
					t.Errorf("got status %d code %q class %v model %q", le.Status, le.Code, le.Class, le.Model)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			text := resp.Text()
			if tt.finish == "length" {
				full := gsm.Models[strong].Response[0]
				if !strings.HasPrefix(full, text) || text == full || resp.Usage.CompletionTokens > 5 || resp.Usage.CompletionTokens < 4 {
					t.Errorf("cut answer %q with %d tokens", text, resp.Usage.CompletionTokens)
				}
			} else if text != tt.want {
				t.Errorf("text = %q, want %q", text, tt.want)
			}
			if got := resp.Choices[0].FinishReason; got != tt.finish {
				t.Errorf("finish = %q, want %q", got, tt.finish)
			}
			if resp.Model != tt.p.upstream || !strings.HasPrefix(resp.ID, "replay-") || resp.Choices[0].Message.Role != llm.RoleAssistant {
				t.Errorf("model %q id %q role %q", resp.Model, resp.ID, resp.Choices[0].Message.Role)
			}
			u := resp.Usage
			if u.Estimated || u.PromptTokens != tokens.Prompt(tt.req) || u.CompletionTokens != tokens.Count(text) || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("usage = %+v, want prompt %d completion %d", u, tokens.Prompt(tt.req), tokens.Count(text))
			}
		})
	}
}

func TestChatErrorMessage(t *testing.T) {
	p := newReplay(t, strong, `{"dataset":"builtin:demo","realtime":false}`)
	_, err := p.Chat(context.Background(), &llm.Request{Messages: []llm.Message{user("hello there")}})
	want := "m: replay of gpt-4-1106-preview: the prompt is not in the data set builtin:demo"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if llm.AsError(err).Type != llm.TypeNotFound {
		t.Errorf("type = %q", llm.AsError(err).Type)
	}
}

func TestResponseIDIsStable(t *testing.T) {
	gsm := demoRecord(t, "gsm8k")
	p := newReplay(t, strong, `{"dataset":"builtin:demo","realtime":false}`)
	req := &llm.Request{Messages: []llm.Message{user(gsm.Prompt[0].Content)}}
	a, _ := p.Chat(context.Background(), req)
	b, _ := p.Chat(context.Background(), req)
	wk := newReplay(t, "x", `{"dataset":"builtin:demo","record_model":"`+weak+`","realtime":false}`)
	c, _ := wk.Chat(context.Background(), req)
	if a.ID != b.ID || a.ID == c.ID {
		t.Errorf("ids %q %q %q: want the same answer to keep its id and another model's to differ", a.ID, b.ID, c.ID)
	}
}

// collect reads s to its end.
func collect(t *testing.T, s llm.Stream) ([]*llm.Chunk, error) {
	t.Helper()
	var out []*llm.Chunk
	for {
		c, err := s.Recv()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
}

func TestStream(t *testing.T) {
	p := newReplay(t, strong, `{"dataset":"builtin:demo","realtime":false}`)
	for _, rec := range []*dataset.Record{demoRecord(t, "gsm8k"), demoRecord(t, "mt_bench")} {
		t.Run(rec.ID, func(t *testing.T) {
			var msgs []llm.Message
			for turn, pt := range rec.Prompt {
				msgs = append(msgs, user(pt.Content))
				want := rec.Models[strong].Response[turn]
				req := &llm.Request{Messages: msgs, Stream: true}
				s, err := p.ChatStream(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				chunks, err := collect(t, s)
				if !errors.Is(err, io.EOF) {
					t.Fatalf("stream ended with %v, want io.EOF", err)
				}
				if _, err := s.Recv(); !errors.Is(err, io.EOF) {
					t.Errorf("Recv after the end = %v, want io.EOF again", err)
				}
				s.Close()
				s.Close()

				if len(chunks) < 4 || chunks[0].Choices[0].Delta.Role != llm.RoleAssistant || chunks[0].Choices[0].Delta.Content != "" {
					t.Fatalf("first chunk %+v, want a bare role delta", chunks[0])
				}
				fin := chunks[len(chunks)-2]
				if fin.Choices[0].FinishReason != llm.FinishStop || fin.Choices[0].Delta.Content != "" {
					t.Errorf("second to last chunk %+v, want finish reason stop", fin)
				}
				last := chunks[len(chunks)-1]
				if last.Usage == nil || len(last.Choices) != 0 {
					t.Fatalf("last chunk %+v, want a usage chunk", last)
				}
				var text strings.Builder
				for _, c := range chunks[1 : len(chunks)-2] {
					d := c.Choices[0].Delta.Content
					if d == "" || !utf8.ValidString(d) || c.Choices[0].FinishReason != "" {
						t.Errorf("content chunk %q is empty, invalid UTF-8 or finishes", d)
					}
					text.WriteString(d)
				}
				if text.String() != want {
					t.Errorf("streamed text differs from the recorded answer:\n got %q\nwant %q", text.String(), want)
				}
				if n := tokens.Count(want); last.Usage.CompletionTokens != n || len(chunks)-3 > n || len(chunks)-3 < n*9/10 {
					t.Errorf("%d content chunks, usage %+v, for %d tokens", len(chunks)-3, *last.Usage, n)
				}
				for _, c := range chunks {
					if c.ID != chunks[0].ID || c.Model != strong {
						t.Errorf("chunk id %q model %q", c.ID, c.Model)
					}
				}
				msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: want})
			}
		})
	}
}

func TestStreamMaxTokens(t *testing.T) {
	gsm := demoRecord(t, "gsm8k")
	p := newReplay(t, strong, `{"dataset":"builtin:demo","realtime":false}`)
	s, err := p.ChatStream(context.Background(), &llm.Request{Messages: []llm.Message{user(gsm.Prompt[0].Content)}, MaxTokens: ptr(3)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chunks, err := collect(t, s)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if got := chunks[len(chunks)-2].Choices[0].FinishReason; got != llm.FinishLength {
		t.Errorf("finish = %q, want length", got)
	}
	if u := chunks[len(chunks)-1].Usage; u.CompletionTokens != 3 {
		t.Errorf("completion tokens = %d, want 3", u.CompletionTokens)
	}
}

func TestStreamUnknownPrompt(t *testing.T) {
	p := newReplay(t, strong, `{"dataset":"builtin:demo","realtime":false}`)
	_, err := p.ChatStream(context.Background(), &llm.Request{Messages: []llm.Message{user("nope")}})
	if llm.AsError(err).Code != "prompt_not_recorded" {
		t.Errorf("err = %v, want prompt_not_recorded", err)
	}
}

// TestRealtime checks the modeled schedule on a fake clock: the role delta
// and first token at TTFT, one token interval per later token, and Chat
// returning when the last token would have arrived.
func TestRealtime(t *testing.T) {
	gsm := demoRecord(t, "gsm8k")
	req := &llm.Request{Messages: []llm.Message{user(gsm.Prompt[0].Content)}}
	n := tokens.Count(gsm.Models[strong].Response[0])
	ttft, per := 400*time.Millisecond, 25*time.Millisecond
	want := ttft + time.Duration(n-1)*per

	synctest.Test(t, func(t *testing.T) {
		p := newReplay(t, strong, `{"dataset":"builtin:demo","ttft":"400ms","tokens_per_second":40}`)
		start := time.Now()
		if _, err := p.Chat(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != want {
			t.Errorf("Chat took %v, want %v", got, want)
		}

		start = time.Now()
		s, err := p.ChatStream(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if time.Since(start) != 0 {
			t.Errorf("ChatStream waited %v before accepting", time.Since(start))
		}
		var at []time.Duration
		for {
			c, err := s.Recv()
			if err != nil {
				break
			}
			if c.Choices != nil && len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
				at = append(at, time.Since(start))
			}
		}
		if at[0] != ttft || at[len(at)-1] != want {
			t.Errorf("first token at %v, last at %v; want %v and %v", at[0], at[len(at)-1], ttft, want)
		}
		if time.Since(start) != want {
			t.Errorf("stream ended at %v, want %v", time.Since(start), want)
		}
	})
}

func TestCancellation(t *testing.T) {
	gsm := demoRecord(t, "gsm8k")
	req := &llm.Request{Messages: []llm.Message{user(gsm.Prompt[0].Content)}}
	tests := []struct {
		name  string
		run   func(t *testing.T, p *Replay) error
		class llm.Class
	}{
		{"chat canceled", func(t *testing.T, p *Replay) error {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(time.Second, cancel)
			_, err := p.Chat(ctx, req)
			return err
		}, llm.ClassCanceled},
		{"chat deadline", func(t *testing.T, p *Replay) error {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			_, err := p.Chat(ctx, req)
			return err
		}, llm.ClassTransient},
		{"stream closed while waiting", func(t *testing.T, p *Replay) error {
			s, err := p.ChatStream(t.Context(), req)
			if err != nil {
				return err
			}
			time.AfterFunc(time.Second, func() { s.Close() })
			_, err = collect(t, s)
			if _, again := s.Recv(); again != err {
				t.Errorf("Recv after the failure = %v, want the same %v", again, err)
			}
			return err
		}, llm.ClassCanceled},
		{"stream deadline", func(t *testing.T, p *Replay) error {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			s, err := p.ChatStream(ctx, req)
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = collect(t, s)
			return err
		}, llm.ClassTransient},
		{"stream on a dead context", func(t *testing.T, p *Replay) error {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := p.ChatStream(ctx, req)
			return err
		}, llm.ClassCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newReplay(t, strong, `{"dataset":"builtin:demo","ttft":"2s","tokens_per_second":1}`)
				start := time.Now()
				err := tt.run(t, p)
				if got := llm.ClassOf(err); got != tt.class {
					t.Errorf("class of %v = %v, want %v", err, got, tt.class)
				}
				if time.Since(start) > 3*time.Second {
					t.Errorf("returned after %v, not when the context ended", time.Since(start))
				}
			})
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	p := newReplay(t, strong, `{"dataset":"builtin:demo","realtime":false}`)
	recs := dataset.Demo()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			rec := &recs[i%len(recs)]
			req := &llm.Request{Messages: []llm.Message{user(rec.Prompt[0].Content)}}
			if i%2 == 0 {
				if _, err := p.Chat(context.Background(), req); err != nil && llm.AsError(err).Code != "no_recorded_answer" {
					t.Error(err)
				}
				return
			}
			s, err := p.ChatStream(context.Background(), req)
			if err != nil {
				if llm.AsError(err).Code != "no_recorded_answer" {
					t.Error(err)
				}
				return
			}
			defer s.Close()
			if _, err := collect(t, s); !errors.Is(err, io.EOF) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func BenchmarkChat(b *testing.B) {
	recs := dataset.Demo()
	p, err := New(provider.Config{Model: "m", Upstream: strong, Options: json.RawMessage(`{"dataset":"builtin:demo","realtime":false}`)})
	if err != nil {
		b.Fatal(err)
	}
	req := &llm.Request{Messages: []llm.Message{user(recs[0].Prompt[0].Content)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Chat(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
