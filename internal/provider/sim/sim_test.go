package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/tokens"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSim(t testing.TB, options string) *Sim {
	t.Helper()
	p, err := New(provider.Config{Model: "m", Upstream: "sim-up", Options: json.RawMessage(options), OptionsPath: "models[0].options"})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*Sim)
}

func ask(s string) *llm.Request {
	return &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: s}}}
}

func ptr[T any](v T) *T { return &v }

func collect(s llm.Stream) ([]*llm.Chunk, error) {
	var out []*llm.Chunk
	for {
		c, err := s.Recv()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
}

// streamText joins the content deltas of chunks.
func streamText(chunks []*llm.Chunk) string {
	var b strings.Builder
	for _, c := range chunks {
		for _, ch := range c.Choices {
			b.WriteString(ch.Delta.Content)
		}
	}
	return b.String()
}

func TestRegistered(t *testing.T) {
	if _, ok := provider.Lookup("sim"); !ok {
		t.Fatal("sim is not registered")
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name    string
		options string
		wantErr string
		check   func(t *testing.T, s *Sim)
	}{
		{name: "defaults", options: ``, check: func(t *testing.T, s *Sim) {
			if s.ttft != defaultTTFT || s.perToken != 20*time.Millisecond || s.outputTokens != defaultOutputTokens ||
				s.retryAfter != time.Second || s.rates != (rates{}) || s.reply != nil || s.callTools || !s.realtime {
				t.Errorf("got %+v", s)
			}
		}},
		{name: "all options", options: `{"seed":-3,"ttft":{"p50":"100ms","p99":"1s"},"tokens_per_second":100,"output_tokens":{"min":5,"max":9},
			"error_rate":0.1,"rate_limit_rate":0.2,"retry_after":"3s","hang_rate":0.05,"stream_break_rate":0.15,"reply":"hi {{.Model}}","call_tools":true,"realtime":false}`,
			check: func(t *testing.T, s *Sim) {
				if s.ttft != (Latency{100 * time.Millisecond, time.Second}) || s.perToken != 10*time.Millisecond || s.outputTokens != (TokenRange{5, 9}) ||
					s.retryAfter != 3*time.Second || s.rates != (rates{rateLimit: 0.2, err: 0.1, hang: 0.05, streamBreak: 0.15}) ||
					s.reply == nil || !s.callTools || s.realtime {
					t.Errorf("got %+v", s)
				}
			}},
		{name: "fixed forms", options: `{"ttft":"250ms","output_tokens":12,"retry_after":2}`, check: func(t *testing.T, s *Sim) {
			if s.ttft != (Latency{250 * time.Millisecond, 250 * time.Millisecond}) || s.outputTokens != (TokenRange{12, 12}) || s.retryAfter != 2*time.Second {
				t.Errorf("got ttft %v output %v retry after %v", s.ttft, s.outputTokens, s.retryAfter)
			}
		}},
		{name: "p99 defaults to p50", options: `{"ttft":{"p50":"1s"}}`, check: func(t *testing.T, s *Sim) {
			if s.ttft != (Latency{time.Second, time.Second}) {
				t.Errorf("ttft = %v", s.ttft)
			}
		}},
		{name: "unknown field", options: `{"seeds":1}`, wantErr: "models[0].options.seeds: unknown field"},
		{name: "seed not an integer", options: `{"seed":"x"}`, wantErr: "models[0].options.seed: expected an integer"},
		{name: "bad ttft", options: `{"ttft":"soon"}`, wantErr: `models[0].options.ttft: invalid duration "soon"`},
		{name: "bad p50", options: `{"ttft":{"p50":"zz"}}`, wantErr: `models[0].options.ttft.p50: invalid duration "zz"`},
		{name: "no p50", options: `{"ttft":{"p99":"1s"}}`, wantErr: "models[0].options.ttft.p50: required"},
		{name: "unknown ttft field", options: `{"ttft":{"p50":"1s","p90":"2s"}}`, wantErr: "models[0].options.ttft.p90: unknown field"},
		{name: "p99 below p50", options: `{"ttft":{"p50":"1s","p99":"500ms"}}`, wantErr: "models[0].options.ttft.p99: must not be below p50 (1s), got 500ms"},
		{name: "zero rate", options: `{"tokens_per_second":0}`, wantErr: "models[0].options.tokens_per_second: must be between 0.001 and 1e+06, got 0"},
		{name: "ttft too long", options: `{"ttft":{"p50":"1s","p99":"2h"}}`, wantErr: "models[0].options.ttft.p99: must not exceed 1h0m0s, got 2h0m0s"},
		{name: "fixed ttft too long", options: `{"ttft":"90m"}`, wantErr: "models[0].options.ttft: must not exceed 1h0m0s, got 1h30m0s"},
		{name: "rate too high", options: `{"tokens_per_second":1e7}`, wantErr: "models[0].options.tokens_per_second: must be between"},
		{name: "output tokens half a range", options: `{"output_tokens":{"min":5}}`, wantErr: "models[0].options.output_tokens: needs both min and max"},
		{name: "output tokens reversed", options: `{"output_tokens":{"min":10,"max":5}}`, wantErr: "models[0].options.output_tokens.max: must not be below min (10), got 5"},
		{name: "output tokens zero", options: `{"output_tokens":0}`, wantErr: "models[0].options.output_tokens: token counts must be between 1 and 100000"},
		{name: "output tokens not a number", options: `{"output_tokens":"many"}`, wantErr: "models[0].options.output_tokens: expected an integer"},
		{name: "negative rate", options: `{"error_rate":-0.1}`, wantErr: "models[0].options.error_rate: must be between 0 and 1, got -0.1"},
		{name: "rate above one", options: `{"hang_rate":1.5}`, wantErr: "models[0].options.hang_rate: must be between 0 and 1"},
		{name: "rates sum above one", options: `{"error_rate":0.6,"rate_limit_rate":0.5}`, wantErr: "models[0].options: rate_limit_rate + error_rate + hang_rate + stream_break_rate must not exceed 1"},
		{name: "bad retry after", options: `{"retry_after":"later"}`, wantErr: `models[0].options.retry_after: invalid duration "later"`},
		{name: "reply does not parse", options: `{"reply":"{{.Prompt"}`, wantErr: "models[0].options.reply: template: reply:1: unclosed action"},
		{name: "reply names an unknown field", options: `{"reply":"{{.Nope}}"}`, wantErr: "models[0].options.reply: template: reply:1:2: executing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(provider.Config{Model: "m", Upstream: "sim-up", Options: json.RawMessage(tt.options), OptionsPath: "models[0].options"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p.(*Sim))
		})
	}
}

func TestLatencySample(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	if d := (Latency{P50: time.Second, P99: time.Second}).Sample(r); d != time.Second {
		t.Errorf("fixed latency sampled %v", d)
	}
	if d := (Latency{}).Sample(r); d != 0 {
		t.Errorf("zero latency sampled %v", d)
	}
	wide := Latency{P50: time.Nanosecond, P99: time.Hour}
	for range 1000 {
		if d := wide.Sample(r); d < 0 || d > tailCap*time.Hour {
			t.Fatalf("wide latency sampled %v", d)
		}
	}
	l := Latency{P50: 200 * time.Millisecond, P99: 800 * time.Millisecond}
	const n = 20000
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = l.Sample(r)
		if ds[i] <= 0 {
			t.Fatalf("sampled %v", ds[i])
		}
	}
	slices.Sort(ds)
	p50, p99 := ds[n/2], ds[n*99/100]
	if math.Abs(float64(p50-l.P50)) > 0.05*float64(l.P50) || math.Abs(float64(p99-l.P99)) > 0.1*float64(l.P99) {
		t.Errorf("sample p50 %v p99 %v, want about %v and %v", p50, p99, l.P50, l.P99)
	}
}

func TestTokenRangeSample(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	seen := map[int]bool{}
	for range 500 {
		n := (TokenRange{Min: 3, Max: 6}).Sample(r)
		if n < 3 || n > 6 {
			t.Fatalf("sampled %d outside [3, 6]", n)
		}
		seen[n] = true
	}
	if len(seen) != 4 {
		t.Errorf("sampled only %v", seen)
	}
	if n := (TokenRange{Min: 7, Max: 7}).Sample(r); n != 7 {
		t.Errorf("fixed range sampled %d", n)
	}
}

func TestRatesPick(t *testing.T) {
	r := rates{rateLimit: 0.1, err: 0.2, hang: 0.05, streamBreak: 0.15}
	tests := []struct {
		u    float64
		want outcome
	}{
		{0, outcomeRateLimit}, {0.0999, outcomeRateLimit}, {0.1001, outcomeError}, {0.2999, outcomeError},
		{0.3001, outcomeHang}, {0.3499, outcomeHang}, {0.3501, outcomeBreak}, {0.4999, outcomeBreak}, {0.5001, outcomeOK}, {0.9999, outcomeOK},
	}
	for _, tt := range tests {
		if got := r.pick(tt.u); got != tt.want {
			t.Errorf("pick(%v) = %v, want %v", tt.u, got, tt.want)
		}
	}
	if got := (rates{}).pick(0); got != outcomeOK {
		t.Errorf("no faults picked %v", got)
	}
}

func TestChat(t *testing.T) {
	tests := []struct {
		name    string
		options string
		req     *llm.Request
		check   func(t *testing.T, resp *llm.Response)
	}{
		{name: "generated text of a fixed length", options: `{"output_tokens":40}`, req: ask("How many bolts does a robe take in total?"),
			check: func(t *testing.T, resp *llm.Response) {
				text := resp.Text()
				if !strings.HasPrefix(text, `Simulated answer to "How many bolts does a robe take in…".`) {
					t.Errorf("text %q does not echo the prompt", text)
				}
				if n := resp.Usage.CompletionTokens; n != 40 {
					t.Errorf("completion tokens = %d, want 40", n)
				}
				if resp.Choices[0].FinishReason != llm.FinishStop {
					t.Errorf("finish = %q", resp.Choices[0].FinishReason)
				}
			}},
		{name: "length within the range", options: `{"output_tokens":{"min":10,"max":20}}`, req: ask("Hi"),
			check: func(t *testing.T, resp *llm.Response) {
				if n := resp.Usage.CompletionTokens; n < 10 || n > 20 {
					t.Errorf("completion tokens = %d, want 10 to 20", n)
				}
			}},
		{name: "max tokens cuts", options: `{"output_tokens":100}`, req: &llm.Request{Messages: ask("Hi").Messages, MaxTokens: ptr(7)},
			check: func(t *testing.T, resp *llm.Response) {
				if resp.Choices[0].FinishReason != llm.FinishLength || resp.Usage.CompletionTokens > 8 {
					t.Errorf("finish %q, %d tokens", resp.Choices[0].FinishReason, resp.Usage.CompletionTokens)
				}
			}},
		{name: "max tokens above the length", options: `{"output_tokens":10}`, req: &llm.Request{Messages: ask("Hi").Messages, MaxTokens: ptr(50)},
			check: func(t *testing.T, resp *llm.Response) {
				if resp.Choices[0].FinishReason != llm.FinishStop {
					t.Errorf("finish %q", resp.Choices[0].FinishReason)
				}
			}},
		{name: "reply template", options: `{"reply":"{{.Model}} heard {{.Turn}}: {{.Prompt}} ({{.Summary}})"}`,
			req: &llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "sys"}, {Role: llm.RoleUser, Content: "one"},
				{Role: llm.RoleAssistant, Content: "ok"}, {Role: llm.RoleUser, Content: "two  words"}}},
			check: func(t *testing.T, resp *llm.Response) {
				if want := "sim-up heard 2: two  words (two words)"; resp.Text() != want {
					t.Errorf("text = %q, want %q", resp.Text(), want)
				}
			}},
		{name: "no user message", options: `{"output_tokens":5}`, req: &llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "x"}}},
			check: func(t *testing.T, resp *llm.Response) {
				if !strings.HasPrefix(resp.Text(), "Simulated answer.") {
					t.Errorf("text = %q", resp.Text())
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, withRealtimeOff(tt.options))
			resp, err := s.Chat(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			u := resp.Usage
			if u.Estimated || u.PromptTokens != tokens.Prompt(tt.req) || u.CompletionTokens != tokens.Count(resp.Text()) || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("usage %+v for prompt %d, text %d tokens", u, tokens.Prompt(tt.req), tokens.Count(resp.Text()))
			}
			if resp.Model != "sim-up" || !strings.HasPrefix(resp.ID, "sim-") || resp.Choices[0].Message.Role != llm.RoleAssistant || resp.Choices[0].Logprobs != nil {
				t.Errorf("response %+v", resp)
			}
			tt.check(t, resp)
		})
	}
}

// withRealtimeOff adds realtime: false to a JSON options object.
func withRealtimeOff(options string) string {
	if options == "" || options == "{}" {
		return `{"realtime":false}`
	}
	return strings.TrimSuffix(options, "}") + `,"realtime":false}`
}

// TestOutputLength checks that generated answers have exactly the drawn
// number of tokens, also when the cut falls inside the echoed prompt.
func TestOutputLength(t *testing.T) {
	for _, target := range []int{1, 2, 3, 10, 57, 300} {
		t.Run(fmt.Sprint(target), func(t *testing.T) {
			s := newSim(t, fmt.Sprintf(`{"output_tokens":%d,"realtime":false}`, target))
			for i := range 40 {
				resp, err := s.Chat(context.Background(), ask(fmt.Sprintf("Question %d: how many bolts? Émile 東京", i)))
				if err != nil {
					t.Fatal(err)
				}
				text := resp.Text()
				if resp.Usage.CompletionTokens != target || strings.Contains(text, "..") {
					t.Errorf("%d tokens in %q", resp.Usage.CompletionTokens, text)
				}
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	const opts = `{"seed":42,"realtime":false}`
	a, b := newSim(t, opts), newSim(t, opts)
	other := newSim(t, `{"seed":43,"realtime":false}`)
	text := func(s *Sim, prompt string) (string, string) {
		t.Helper()
		resp, err := s.Chat(context.Background(), ask(prompt))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Text(), resp.ID
	}
	t1, id1 := text(a, "What is 2+2?")
	t2, id2 := text(a, "What is 2+2?")
	t3, id3 := text(b, "What is 2+2?")
	if t1 != t2 || t1 != t3 {
		t.Errorf("the same prompt got different answers:\n%q\n%q\n%q", t1, t2, t3)
	}
	if id1 == id2 || id1 != id3 {
		t.Errorf("ids %q %q %q: want a repeat to differ and a fresh instance to replay", id1, id2, id3)
	}
	if t4, _ := text(a, "What is 3+3?"); t4 == t1 {
		t.Error("a different prompt got the same answer")
	}
	if t5, _ := text(other, "What is 2+2?"); t5 == t1 {
		t.Error("a different seed gave the same answer")
	}
}

// outcomeOf summarizes one call for comparing runs.
func outcomeOf(resp *llm.Response, err error) string {
	if err != nil {
		e := llm.AsError(err)
		return fmt.Sprintf("error %d %s", e.Status, e.Code)
	}
	return resp.ID + " " + resp.Text()
}

func TestFaultSequenceReplays(t *testing.T) {
	const opts = `{"seed":9,"error_rate":0.3,"rate_limit_rate":0.2,"realtime":false}`
	run := func() []string {
		s := newSim(t, opts)
		var out []string
		for i := range 60 {
			resp, err := s.Chat(context.Background(), ask(fmt.Sprintf("prompt %d", i%7)))
			out = append(out, outcomeOf(resp, err))
		}
		return out
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Error("the same sequence of requests gave different outcomes")
	}
	errs := 0
	for _, o := range first {
		if strings.HasPrefix(o, "error") {
			errs++
		}
	}
	if errs == 0 || errs == len(first) {
		t.Errorf("%d of %d calls failed; want a mix", errs, len(first))
	}
}

func TestRetryDrawsAfresh(t *testing.T) {
	s := newSim(t, `{"seed":1,"error_rate":0.5,"realtime":false}`)
	ok, failed := 0, 0
	var texts []string
	for range 40 {
		resp, err := s.Chat(context.Background(), ask("the same request"))
		if err != nil {
			failed++
			continue
		}
		ok++
		texts = append(texts, resp.Text())
	}
	if ok == 0 || failed == 0 {
		t.Errorf("%d ok, %d failed; retries of one request should draw afresh", ok, failed)
	}
	for _, tx := range texts {
		if tx != texts[0] {
			t.Fatal("successful repeats of one request got different answers")
		}
	}
}

func TestFaultRates(t *testing.T) {
	s := newSim(t, `{"seed":5,"error_rate":0.2,"rate_limit_rate":0.1,"output_tokens":3,"realtime":false}`)
	const n = 3000
	count := map[int]int{}
	for i := range n {
		_, err := s.Chat(context.Background(), ask(fmt.Sprintf("q%d", i)))
		count[llm.AsError(err).Status*btoi(err != nil)]++
	}
	share := func(statuses ...int) float64 {
		c := 0
		for _, st := range statuses {
			c += count[st]
		}
		return float64(c) / n
	}
	if got := share(500, 503); math.Abs(got-0.2) > 0.03 {
		t.Errorf("error share %v, want about 0.2", got)
	}
	if got := share(429); math.Abs(got-0.1) > 0.03 {
		t.Errorf("rate limit share %v, want about 0.1", got)
	}
	if count[500] == 0 || count[503] == 0 {
		t.Errorf("statuses %v, want both 500 and 503", count)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFaultErrors(t *testing.T) {
	tests := []struct {
		name    string
		options string
		stream  bool
		status  []int
		code    []string
		class   llm.Class
		retry   time.Duration
	}{
		{"rate limit", `{"rate_limit_rate":1,"retry_after":"2s"}`, false, []int{429}, []string{"rate_limit_exceeded"}, llm.ClassRateLimit, 2 * time.Second},
		{"rate limit on a stream", `{"rate_limit_rate":1}`, true, []int{429}, []string{"rate_limit_exceeded"}, llm.ClassRateLimit, time.Second},
		{"server error", `{"error_rate":1}`, false, []int{500, 503}, []string{"upstream_error", "upstream_overloaded"}, llm.ClassTransient, 0},
		{"server error on a stream", `{"error_rate":1}`, true, []int{500, 503}, []string{"upstream_error", "upstream_overloaded"}, llm.ClassTransient, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, tt.options)
			var err error
			if tt.stream {
				_, err = s.ChatStream(context.Background(), ask("hi"))
			} else {
				_, err = s.Chat(context.Background(), ask("hi"))
			}
			var le *llm.Error
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want an *llm.Error", err)
			}
			i := slices.Index(tt.status, le.Status)
			if i < 0 || le.Code != tt.code[i] || le.Class != tt.class || le.RetryAfter != tt.retry || le.Model != "m" {
				t.Errorf("got status %d code %q class %v retry after %v model %q", le.Status, le.Code, le.Class, le.RetryAfter, le.Model)
			}
		})
	}
}

func TestHang(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSim(t, `{"hang_rate":1,"realtime":false}`)
				ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
				defer cancel()
				start := time.Now()
				var err error
				if stream {
					_, err = s.ChatStream(ctx, ask("hi"))
				} else {
					_, err = s.Chat(ctx, ask("hi"))
				}
				if e := llm.AsError(err); e.Code != "upstream_timeout" || e.Class != llm.ClassTransient {
					t.Errorf("err = %v, want a transient upstream_timeout", err)
				}
				if time.Since(start) != time.Hour {
					t.Errorf("returned after %v, want when the deadline passed", time.Since(start))
				}
			})
		})
	}
}

func TestStream(t *testing.T) {
	req := &llm.Request{Messages: ask("Explain routing.").Messages, Stream: true}
	whole := newSim(t, `{"seed":3,"output_tokens":60,"realtime":false}`)
	resp, err := whole.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	s := newSim(t, `{"seed":3,"output_tokens":60,"realtime":false}`)
	st, err := s.ChatStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chunks, err := collect(st)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("stream ended with %v", err)
	}
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after the end = %v", err)
	}
	if chunks[0].Choices[0].Delta.Role != llm.RoleAssistant {
		t.Errorf("first chunk %+v, want the role", chunks[0])
	}
	if got := streamText(chunks); got != resp.Text() {
		t.Errorf("streamed %q, Chat said %q", got, resp.Text())
	}
	fin, last := chunks[len(chunks)-2], chunks[len(chunks)-1]
	if fin.Choices[0].FinishReason != llm.FinishStop || last.Usage == nil || *last.Usage != resp.Usage || len(last.Choices) != 0 {
		t.Errorf("finish chunk %+v, usage chunk %+v; want stop and %+v", fin, last, resp.Usage)
	}
	for _, c := range chunks[1 : len(chunks)-2] {
		if c.Choices[0].Delta.Content == "" || c.ID != chunks[0].ID || c.Model != "sim-up" {
			t.Errorf("content chunk %+v", c)
		}
	}
}

func TestStreamBreak(t *testing.T) {
	req := ask("Tell me a long story.")
	full, err := newSim(t, `{"seed":8,"output_tokens":80,"realtime":false}`).Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	s := newSim(t, `{"seed":8,"output_tokens":80,"stream_break_rate":1,"realtime":false}`)
	if _, err := s.Chat(context.Background(), req); err != nil {
		t.Errorf("Chat failed on a stream-break sim: %v", err)
	}
	lengths := map[int]bool{}
	for range 10 {
		st, err := s.ChatStream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(st)
		st.Close()
		var le *llm.Error
		if !errors.As(err, &le) || le.Code != "stream_truncated" || le.Class != llm.ClassTransient || le.Status != 502 {
			t.Fatalf("stream ended with %v, want a transient stream_truncated", err)
		}
		if _, again := st.Recv(); again != err {
			t.Errorf("Recv after the break = %v", again)
		}
		if chunks[0].Choices[0].Delta.Role != llm.RoleAssistant {
			t.Errorf("first chunk %+v", chunks[0])
		}
		for _, c := range chunks {
			if c.Usage != nil || c.Choices[0].FinishReason != "" {
				t.Errorf("a broken stream sent a terminal chunk %+v", c)
			}
		}
		text := streamText(chunks)
		if !strings.HasPrefix(full.Text(), text) || text == full.Text() {
			t.Errorf("broken stream sent %q, not a strict prefix of the answer", text)
		}
		lengths[len(text)] = true
	}
	if len(lengths) < 2 {
		t.Errorf("streams broke at %v only; want varying points", lengths)
	}
}

func TestLogprobs(t *testing.T) {
	s := newSim(t, `{"output_tokens":30,"realtime":false}`)
	for _, top := range []int{0, 1, 3, 25} {
		t.Run(fmt.Sprintf("top=%d", top), func(t *testing.T) {
			req := &llm.Request{Messages: ask("Give me logprobs").Messages, Logprobs: true, TopLogprobs: ptr(top)}
			resp, err := s.Chat(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			lp := resp.Choices[0].Logprobs
			if lp == nil {
				t.Fatal("no logprobs")
			}
			var joined strings.Builder
			for _, tl := range lp.Content {
				joined.WriteString(tl.Token)
				if tl.Logprob >= 0 || tl.Logprob < -20 || string(intsToBytes(tl.Bytes)) != tl.Token {
					t.Errorf("token %+v", tl)
				}
				wantTop := min(top, 20)
				if len(tl.TopLogprobs) != wantTop || tl.TopLogprobs == nil {
					t.Fatalf("%d top logprobs, want %d", len(tl.TopLogprobs), wantTop)
				}
				sum, found := 0.0, wantTop == 0
				for i, alt := range tl.TopLogprobs {
					sum += math.Exp(alt.Logprob)
					found = found || (alt.Token == tl.Token && alt.Logprob == tl.Logprob)
					if i > 0 && alt.Logprob > tl.TopLogprobs[i-1].Logprob {
						t.Errorf("top logprobs not sorted: %+v", tl.TopLogprobs)
					}
					if math.IsInf(alt.Logprob, 0) || math.IsNaN(alt.Logprob) {
						t.Errorf("logprob %v", alt.Logprob)
					}
				}
				if !found || sum > 1 {
					t.Errorf("top logprobs %+v: sampled token found %v, probability sum %v", tl.TopLogprobs, found, sum)
				}
			}
			if joined.String() != resp.Text() {
				t.Errorf("logprob tokens join to %q, text is %q", joined.String(), resp.Text())
			}
			if _, err := json.Marshal(resp); err != nil {
				t.Errorf("response does not encode: %v", err)
			}
		})
	}
	st, err := s.ChatStream(context.Background(), &llm.Request{Messages: ask("Give me logprobs").Messages, Logprobs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chunks, _ := collect(st)
	for _, c := range chunks[1 : len(chunks)-2] {
		if lp := c.Choices[0].Logprobs; lp == nil || len(lp.Content) != 1 || lp.Content[0].Token != c.Choices[0].Delta.Content {
			t.Errorf("content chunk %+v lacks its logprob", c.Choices[0])
		}
	}
}

func intsToBytes(v []int) []byte {
	out := make([]byte, len(v))
	for i, b := range v {
		out[i] = byte(b)
	}
	return out
}

func TestToolCalls(t *testing.T) {
	tools := []llm.Tool{
		{Type: "function", Function: llm.FunctionDef{Name: "get_weather"}},
		{Type: "function", Function: llm.FunctionDef{Name: "get_time"}},
	}
	msgs := ask("What's the weather?").Messages
	tests := []struct {
		name      string
		options   string
		req       *llm.Request
		wantCall  string
		wantFinal string
	}{
		{"off", `{}`, &llm.Request{Messages: msgs, Tools: tools}, "", llm.FinishStop},
		{"no tools", `{"call_tools":true}`, &llm.Request{Messages: msgs}, "", llm.FinishStop},
		{"first tool", `{"call_tools":true}`, &llm.Request{Messages: msgs, Tools: tools}, "get_weather", llm.FinishToolCalls},
		{"auto", `{"call_tools":true}`, &llm.Request{Messages: msgs, Tools: tools, ToolChoice: json.RawMessage(`"auto"`)}, "get_weather", llm.FinishToolCalls},
		{"named", `{"call_tools":true}`, &llm.Request{Messages: msgs, Tools: tools,
			ToolChoice: json.RawMessage(`{"type":"function","function":{"name":"get_time"}}`)}, "get_time", llm.FinishToolCalls},
		{"none", `{"call_tools":true}`, &llm.Request{Messages: msgs, Tools: tools, ToolChoice: json.RawMessage(`"none"`)}, "", llm.FinishStop},
		{"after the tool ran", `{"call_tools":true}`, &llm.Request{Tools: tools, Messages: append(slices.Clone(msgs),
			llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: "{}"}}}},
			llm.Message{Role: llm.RoleTool, ToolCallID: "c1", Content: "sunny"})}, "", llm.FinishStop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, withRealtimeOff(tt.options))
			resp, err := s.Chat(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			ch := resp.Choices[0]
			if ch.FinishReason != tt.wantFinal {
				t.Errorf("finish = %q, want %q", ch.FinishReason, tt.wantFinal)
			}
			if tt.wantCall == "" {
				if len(ch.Message.ToolCalls) != 0 || ch.Message.Content == "" {
					t.Errorf("message %+v, want text", ch.Message)
				}
				return
			}
			if len(ch.Message.ToolCalls) != 1 || ch.Message.Content != "" {
				t.Fatalf("message %+v, want one tool call", ch.Message)
			}
			call := ch.Message.ToolCalls[0]
			if call.Function.Name != tt.wantCall || call.Function.Arguments != "{}" || call.Type != "function" || !strings.HasPrefix(call.ID, "call_") {
				t.Errorf("call %+v", call)
			}
			if resp.Usage.CompletionTokens == 0 {
				t.Error("no completion tokens for a tool call")
			}

			st, err := newSim(t, withRealtimeOff(tt.options)).ChatStream(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			chunks, err := collect(st)
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			var name, args, id string
			for _, c := range chunks {
				for _, ch := range c.Choices {
					for _, d := range ch.Delta.ToolCalls {
						name += d.Function.Name
						args += d.Function.Arguments
						id += d.ID
					}
				}
			}
			if name != tt.wantCall || args != "{}" || id != call.ID {
				t.Errorf("streamed call %q(%s) id %q, want %q({}) id %q", name, args, id, tt.wantCall, call.ID)
			}
			if got := chunks[len(chunks)-2].Choices[0].FinishReason; got != llm.FinishToolCalls {
				t.Errorf("stream finish = %q", got)
			}
		})
	}
}

func TestSeveralChoicesRefused(t *testing.T) {
	s := newSim(t, `{"realtime":false}`)
	_, err := s.Chat(context.Background(), &llm.Request{Messages: ask("x").Messages, N: ptr(3)})
	if e := llm.AsError(err); e.Status != 400 || e.Param != "n" || e.Class != llm.ClassUnsupported {
		t.Errorf("err = %v", err)
	}
}

// TestRealtime checks the modeled schedule on a fake clock.
func TestRealtime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, `{"ttft":"300ms","tokens_per_second":20,"output_tokens":25}`)
		start := time.Now()
		resp, err := s.Chat(t.Context(), ask("hello"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, pc := range tokens.Split(resp.Text()) {
			n += pc.Tokens
		}
		want := 300*time.Millisecond + time.Duration(n-1)*50*time.Millisecond
		if got := time.Since(start); got != want {
			t.Errorf("Chat took %v, want %v", got, want)
		}

		start = time.Now()
		st, err := s.ChatStream(t.Context(), ask("hello"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		first, err := st.Recv()
		if err != nil || first.Choices[0].Delta.Role == "" || time.Since(start) != 300*time.Millisecond {
			t.Errorf("first chunk %v after %v, err %v", first, time.Since(start), err)
		}
		if _, err := collect(st); !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if got := time.Since(start); got != want {
			t.Errorf("stream took %v, want %v", got, want)
		}
	})
}

func TestStreamClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, `{"ttft":"1s"}`)
		st, err := s.ChatStream(t.Context(), ask("hello"))
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(100*time.Millisecond, func() { st.Close() })
		start := time.Now()
		_, err = st.Recv()
		if llm.ClassOf(err) != llm.ClassCanceled || time.Since(start) != 100*time.Millisecond {
			t.Errorf("Recv = %v after %v, want canceled at close", err, time.Since(start))
		}
		st.Close()
	})
}

func TestVocabularyIsOneTokenPerWord(t *testing.T) {
	for _, w := range vocabulary {
		if n := tokens.Count(" " + w); n != 1 {
			t.Errorf("%q is %d tokens", " "+w, n)
		}
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  one\ntwo  ", "one two"},
		{"a b c d e f g h", "a b c d e f g h"},
		{"a b c d e f g h i", "a b c d e f g h…"},
		{strings.Repeat("x", 100), strings.Repeat("x", 80) + "…"},
	}
	for _, tt := range tests {
		if got := summarize(tt.in); got != tt.want {
			t.Errorf("summarize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newSim(t, `{"error_rate":0.2,"stream_break_rate":0.2,"realtime":false,"output_tokens":10}`)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			req := ask(fmt.Sprintf("q%d", i%4))
			if i%2 == 0 {
				s.Chat(context.Background(), req)
				return
			}
			st, err := s.ChatStream(context.Background(), req)
			if err != nil {
				return
			}
			defer st.Close()
			collect(st)
		})
	}
	wg.Wait()
}

func BenchmarkChat(b *testing.B) {
	s := newSim(b, `{"realtime":false,"output_tokens":200}`)
	req := ask("How many bolts does a robe take?")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Chat(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
