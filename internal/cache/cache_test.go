package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/redistest"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/state"
)

func ptr[T any](v T) *T { return &v }

func base() *llm.Request {
	return &llm.Request{Model: "r", Messages: []llm.Message{
		{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}}, Temperature: ptr(0.2)}
}

func TestKey(t *testing.T) {
	ref, err := Key("acme", "race", base())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tenant string
		route  string
		edit   func(r *llm.Request)
		same   bool
	}{
		{"identical", "acme", "race", func(r *llm.Request) {}, true},
		{"stream ignored", "acme", "race", func(r *llm.Request) { r.Stream, r.IncludeUsage = true, true }, true},
		{"user and metadata ignored", "acme", "race", func(r *llm.Request) { r.User, r.Metadata = "u1", map[string]string{"a": "b"} }, true},
		{"model field ignored (route scopes)", "acme", "race", func(r *llm.Request) { r.Model = "other" }, true},
		{"tool_choice whitespace", "acme", "race", func(r *llm.Request) {}, true},
		{"tenant", "other", "race", func(r *llm.Request) {}, false},
		{"anonymous", "", "race", func(r *llm.Request) {}, false},
		{"route", "acme", "hedge", func(r *llm.Request) {}, false},
		{"system prompt", "acme", "race", func(r *llm.Request) { r.Messages[0].Content = "be long" }, false},
		{"user text", "acme", "race", func(r *llm.Request) { r.Messages[1].Content = "hello" }, false},
		{"role", "acme", "race", func(r *llm.Request) { r.Messages[0].Role = "user" }, false},
		{"temperature", "acme", "race", func(r *llm.Request) { r.Temperature = ptr(0.3) }, false},
		{"top_p", "acme", "race", func(r *llm.Request) { r.TopP = ptr(0.9) }, false},
		{"max_tokens", "acme", "race", func(r *llm.Request) { r.MaxTokens = ptr(10) }, false},
		{"stop", "acme", "race", func(r *llm.Request) { r.Stop = []string{"\n"} }, false},
		{"n", "acme", "race", func(r *llm.Request) { r.N = ptr(2) }, false},
		{"seed", "acme", "race", func(r *llm.Request) { r.Seed = ptr(int64(7)) }, false},
		{"logprobs", "acme", "race", func(r *llm.Request) { r.Logprobs = true }, false},
		{"tools", "acme", "race", func(r *llm.Request) {
			r.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "f"}}}
		}, false},
		{"tool_choice", "acme", "race", func(r *llm.Request) { r.ToolChoice = json.RawMessage(`"required"`) }, false},
		{"response_format", "acme", "race", func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: "json_object"} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.edit(r)
			k, err := Key(tt.tenant, tt.route, r)
			if err != nil {
				t.Fatal(err)
			}
			if (k == ref) != tt.same {
				t.Fatalf("same key = %v, want %v", k == ref, tt.same)
			}
		})
	}
	a, b := base(), base()
	a.ToolChoice, b.ToolChoice = json.RawMessage(`{"type": "function", "function": {"name": "f"}}`), json.RawMessage(`{"function":{"name":"f"},"type":"function"}`)
	ka, _ := Key("", "r", a)
	kb, _ := Key("", "r", b)
	if ka != kb {
		t.Fatal("tool_choice differing only in layout gave different keys")
	}
	a.ToolChoice = json.RawMessage(`{bad`)
	if _, err := Key("", "r", a); err == nil {
		t.Fatal("bad tool_choice: no error")
	}
}

func answer(text string) *Entry {
	return &Entry{Model: "m", Response: &llm.Response{ID: "id", Model: "m", Choices: []llm.Choice{
		{Message: llm.Message{Role: "assistant", Content: text}, FinishReason: "stop"}}, Usage: llm.Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}}}
}

func TestTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New(10)
	c.Remote = nil
	c.Now = func() time.Time { return now }
	c.Set("k", answer("x"), time.Minute)
	if e, ok := c.Get("k"); !ok || e.Response.Choices[0].Message.Content != "x" {
		t.Fatalf("get = %v %v", e, ok)
	}
	now = now.Add(59 * time.Second)
	if _, ok := c.Get("k"); !ok {
		t.Fatal("expired early")
	}
	now = now.Add(time.Second)
	if _, ok := c.Get("k"); ok {
		t.Fatal("served after its TTL")
	}
	if c.Len() != 0 {
		t.Fatalf("expired entry kept: len %d", c.Len())
	}
}

func TestLRUBound(t *testing.T) {
	c := New(3)
	c.Remote = nil
	for i := range 3 {
		c.Set(fmt.Sprint(i), answer(fmt.Sprint(i)), time.Minute)
	}
	c.Get("0") // 0 is now the most recent; 1 the least
	c.Set("3", answer("3"), time.Minute)
	if c.Len() != 3 {
		t.Fatalf("len %d, want 3", c.Len())
	}
	for k, want := range map[string]bool{"0": true, "1": false, "2": true, "3": true} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("%s present = %v, want %v", k, ok, want)
		}
	}
	c.Resize(1)
	if c.Len() != 1 {
		t.Fatalf("after resize len %d", c.Len())
	}
}

func TestCoalescing(t *testing.T) {
	c := New(10)
	c.Remote = nil
	var calls atomic.Int32
	release := make(chan struct{})
	const n = 16
	var wg sync.WaitGroup
	var shared atomic.Int32
	var started sync.WaitGroup
	started.Add(n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			e, sh, err := c.Do(context.Background(), "k", time.Minute, func() (*Entry, error) {
				calls.Add(1)
				<-release
				return answer("one"), nil
			})
			if err != nil || e.Response.Choices[0].Message.Content != "one" {
				t.Errorf("got %v %v", e, err)
			}
			if sh {
				shared.Add(1)
			}
		}()
	}
	started.Wait()
	time.Sleep(50 * time.Millisecond) // let every goroutine join the flight
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("%d upstream calls for %d identical requests, want 1", calls.Load(), n)
	}
	if shared.Load() != n-1 {
		t.Fatalf("%d followers, want %d", shared.Load(), n-1)
	}
	if _, ok := c.Get("k"); !ok {
		t.Fatal("leader's answer not stored")
	}
}

func TestLeaderFailureNotCached(t *testing.T) {
	c := New(10)
	c.Remote = nil
	boom := errors.New("boom")
	_, _, err := c.Do(context.Background(), "k", time.Minute, func() (*Entry, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if _, ok := c.Get("k"); ok {
		t.Fatal("failure cached")
	}
	var calls int
	if _, sh, err := c.Do(context.Background(), "k", time.Minute, func() (*Entry, error) { calls++; return answer("y"), nil }); err != nil || sh || calls != 1 {
		t.Fatalf("retry after failure: %v %v %d", sh, err, calls)
	}
}

func TestFollowerContext(t *testing.T) {
	c := New(10)
	c.Remote = nil
	release := make(chan struct{})
	go c.Do(context.Background(), "k", time.Minute, func() (*Entry, error) { <-release; return answer("z"), nil })
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, sh, err := c.Do(ctx, "k", time.Minute, func() (*Entry, error) { t.Error("follower ran fn"); return nil, nil }); err == nil || !sh {
		t.Fatalf("canceled follower: shared %v err %v", sh, err)
	}
	close(release)
}

func TestRecordAndReplay(t *testing.T) {
	e := answer("hello world")
	e.Response.Choices[0].Message.ToolCalls = []llm.ToolCall{{ID: "c1", Type: "function", Function: llm.FunctionCall{Name: "f", Arguments: `{"a":1}`}}}
	var got *llm.Response
	rec := Record(NewReplay(e.Response), func(r *llm.Response) { got = r })
	var chunks int
	for {
		_, err := rec.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks++
	}
	rec.Close()
	if chunks != 2 || got == nil {
		t.Fatalf("chunks %d, stored %v", chunks, got)
	}
	want, _ := json.Marshal(e.Response)
	have, _ := json.Marshal(got)
	if string(want) != string(have) {
		t.Fatalf("replayed then reassembled:\n%s\nwant\n%s", have, want)
	}
	// A stream closed before its end is not stored.
	got = nil
	rec = Record(NewReplay(e.Response), func(r *llm.Response) { got = r })
	rec.Recv()
	rec.Close()
	if _, err := rec.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v", err)
	}
	if got != nil {
		t.Fatal("a stream closed early was stored")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		c    Config
		path string
	}{
		{Config{Enabled: true}, ""},
		{Config{TTL: conf.Duration(-time.Second)}, "cache.ttl"},
		{Config{TTL: conf.Duration(time.Millisecond)}, "cache.ttl"},
		{Config{MaxEntries: -1}, "cache.max_entries"},
		{Config{Routes: []string{"a", ""}}, "cache.routes[1]"},
	}
	for _, tt := range tests {
		err := tt.c.Validate("cache")
		var ce *conf.Error
		switch {
		case tt.path == "" && err != nil:
			t.Errorf("%+v: %v", tt.c, err)
		case tt.path != "" && (!errors.As(err, &ce) || ce.Path != tt.path):
			t.Errorf("%+v: err %v, want path %s", tt.c, err, tt.path)
		}
	}
	c := Config{Enabled: true, Routes: []string{"race"}}
	if !c.Covers("race") || c.Covers("hedge") || (&Config{Enabled: true}).Covers("x") != true || (&Config{}).Covers("x") {
		t.Fatal("Covers")
	}
}

func TestRedisBackend(t *testing.T) {
	addr := redistest.Start(t)
	r := state.NewRedis(state.RedisConfig{Addr: addr, Prefix: "t:"}, "", signals.New(signals.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer r.Close()
	a, b := New(10), New(10) // two replicas
	a.Remote = func() state.KV { return r }
	b.Remote = func() state.KV { return r }
	a.Set("k", answer("shared"), 2*time.Second)
	e, ok := b.Get("k")
	if !ok || e.Response.Choices[0].Message.Content != "shared" {
		t.Fatalf("replica b: %v %v", e, ok)
	}
	c := New(10)
	c.Remote = func() state.KV { return r }
	time.Sleep(2100 * time.Millisecond)
	if _, ok := c.Get("k"); ok {
		t.Fatal("redis served an expired entry")
	}
}
