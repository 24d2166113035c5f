package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/tokens"
)

func embedOne(t testing.TB, s *Sim, dims int, texts ...string) *llm.EmbedResponse {
	t.Helper()
	resp, err := s.Embed(context.Background(), &llm.EmbedRequest{Input: texts, Dimensions: dims})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func TestEmbedConfig(t *testing.T) {
	tests := []struct {
		name, options, wantErr string
		want                   int
	}{
		{name: "default", options: ``, want: 64},
		{name: "zero is the default", options: `{"embedding_dimensions":0}`, want: 64},
		{name: "set", options: `{"embedding_dimensions":1536}`, want: 1536},
		{name: "one", options: `{"embedding_dimensions":1}`, want: 1},
		{name: "negative", options: `{"embedding_dimensions":-4}`, wantErr: "models[0].options.embedding_dimensions: must be between 1 and 8192, got -4"},
		{name: "too many", options: `{"embedding_dimensions":10000}`, wantErr: "models[0].options.embedding_dimensions: must be between 1 and 8192, got 10000"},
		{name: "not a number", options: `{"embedding_dimensions":"wide"}`, wantErr: "models[0].options.embedding_dimensions: expected an integer"},
		{name: "misspelt", options: `{"embedding_dimension":32}`, wantErr: "models[0].options.embedding_dimension: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr != "" {
				_, err := New(provider.Config{Model: "m", Upstream: "sim-up", Options: json.RawMessage(tt.options), OptionsPath: "models[0].options"})
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			s := newSim(t, tt.options)
			s.realtime = false
			if s.embedDims != tt.want {
				t.Errorf("embedDims = %d, want %d", s.embedDims, tt.want)
			}
			if got := len(embedOne(t, s, 0, "x").Vectors[0]); got != tt.want {
				t.Errorf("vector length %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEmbed(t *testing.T) {
	s := newSim(t, `{"realtime":false}`)
	inputs := []string{"The quick brown fox.", "", "Ünïcödé wörds ŝtay whole", "!!! ???", "a"}
	resp := embedOne(t, s, 0, inputs...)
	if resp.Model != "sim-up" || len(resp.Vectors) != len(inputs) {
		t.Fatalf("model %q, %d vectors for %d inputs", resp.Model, len(resp.Vectors), len(inputs))
	}
	want := 0
	for i, in := range inputs {
		want += tokens.Count(in)
		v := resp.Vectors[i]
		if len(v) != defaultEmbedDims {
			t.Errorf("input %d: %d dimensions, want %d", i, len(v), defaultEmbedDims)
		}
		var norm float64
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("input %d holds %v", i, x)
			}
			norm += float64(x) * float64(x)
		}
		if math.Abs(norm-1) > 1e-5 {
			t.Errorf("input %q: squared norm %v, want 1", in, norm)
		}
		// Each vector is the one the text gets alone: input order is kept.
		if alone := embedOne(t, s, 0, in).Vectors[0]; !slices.Equal(alone, v) {
			t.Errorf("input %d differs from the same text embedded alone", i)
		}
	}
	if resp.Usage != (llm.Usage{PromptTokens: want, TotalTokens: want}) {
		t.Errorf("usage = %+v, want %d prompt tokens", resp.Usage, want)
	}
}

func TestEmbedDimensionsOverride(t *testing.T) {
	s := newSim(t, `{"embedding_dimensions":32,"realtime":false}`)
	for _, dims := range []int{0, 1, 7, 256} {
		v := embedOne(t, s, dims, "routing embeddings").Vectors[0]
		want := dims
		if dims == 0 {
			want = 32
		}
		if len(v) != want {
			t.Errorf("dimensions %d: got %d values, want %d", dims, len(v), want)
		}
	}
	for _, dims := range []int{-1, maxEmbedDims + 1} {
		_, err := s.Embed(t.Context(), &llm.EmbedRequest{Input: []string{"x"}, Dimensions: dims})
		if e := llm.AsError(err); e.Class != llm.ClassCaller || e.Param != "dimensions" || e.Model != "m" {
			t.Errorf("dimensions %d: err = %v, want a caller fault", dims, err)
		}
	}
}

func TestEmbedNoInput(t *testing.T) {
	s := newSim(t, `{"realtime":false}`)
	_, err := s.Embed(t.Context(), &llm.EmbedRequest{})
	if e := llm.AsError(err); e.Class != llm.ClassCaller || e.Param != "input" || e.Model != "m" {
		t.Errorf("err = %v, want a caller fault", err)
	}
}

// Vectors depend only on the text, the seed and the upstream name: not on
// earlier calls, the batch, case or punctuation.
func TestEmbedDeterminism(t *testing.T) {
	const text = "Sextant routes each request to the cheapest model that can answer it."
	a := embedOne(t, newSim(t, `{"seed":3,"realtime":false}`), 0, text).Vectors[0]
	s := newSim(t, `{"seed":3,"realtime":false}`)
	embedOne(t, s, 0, "something else first")
	if b := embedOne(t, s, 0, "other", text).Vectors[1]; !slices.Equal(a, b) {
		t.Error("the same text got different vectors")
	}
	if b := embedOne(t, s, 0, strings.ToUpper(text)+"!!").Vectors[0]; !slices.Equal(a, b) {
		t.Error("case and punctuation changed the vector")
	}
	if b := embedOne(t, newSim(t, `{"seed":4,"realtime":false}`), 0, text).Vectors[0]; slices.Equal(a, b) {
		t.Error("another seed gave the same vector")
	}
	other, err := New(provider.Config{Model: "m", Upstream: "sim-other", Options: json.RawMessage(`{"seed":3,"realtime":false}`)})
	if err != nil {
		t.Fatal(err)
	}
	if b := embedOne(t, other.(*Sim), 0, text).Vectors[0]; slices.Equal(a, b) {
		t.Error("another upstream name gave the same vector")
	}
}

// Texts that share words are closer than unrelated ones, for every seed and
// at the default length, and a misspelling stays near the word through
// shared trigrams.
func TestEmbedSimilarity(t *testing.T) {
	type triple struct{ anchor, near, far string }
	cases := []triple{
		{"the cat sat on the mat", "a cat sat on a rug", "quarterly revenue grew strongly in europe"},
		{"how do I reset my password", "reset password link not working", "best pizza recipe with fresh basil"},
		{"GPU memory usage during inference", "inference memory on the GPU", "the river flooded the old town bridge"},
		{"embedding", "embeddings", "volcano"},
		{"routing", "routng", "pineapple"},
	}
	for seed := range 20 {
		s := newSim(t, fmt.Sprintf(`{"seed":%d,"realtime":false}`, seed))
		for _, c := range cases {
			v := embedOne(t, s, 0, c.anchor, c.near, c.far).Vectors
			near, far := cosine(v[0], v[1]), cosine(v[0], v[2])
			if near <= far {
				t.Errorf("seed %d: cos(%q, %q) = %.3f is not above cos(%q, %q) = %.3f",
					seed, c.anchor, c.near, near, c.anchor, c.far, far)
			}
			if self := cosine(v[0], embedOne(t, s, 0, c.anchor).Vectors[0]); math.Abs(self-1) > 1e-6 {
				t.Errorf("seed %d: a text's cosine with itself is %v", seed, self)
			}
		}
	}
}

func TestEmbedFaults(t *testing.T) {
	tests := []struct {
		name, options string
		status        []int
		code          []string
		class         llm.Class
		retry         time.Duration
	}{
		{"rate limit", `{"rate_limit_rate":1,"retry_after":"2s"}`, []int{429}, []string{"rate_limit_exceeded"}, llm.ClassRateLimit, 2 * time.Second},
		{"server error", `{"error_rate":1}`, []int{500, 503}, []string{"upstream_error", "upstream_overloaded"}, llm.ClassTransient, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, tt.options)
			_, err := s.Embed(context.Background(), &llm.EmbedRequest{Input: []string{"hi"}})
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
	// A stream break does not apply to embeddings.
	if _, err := newSim(t, `{"stream_break_rate":1,"realtime":false}`).Embed(t.Context(), &llm.EmbedRequest{Input: []string{"hi"}}); err != nil {
		t.Errorf("stream_break_rate failed an embedding: %v", err)
	}
}

func TestEmbedFaultRates(t *testing.T) {
	s := newSim(t, `{"seed":5,"error_rate":0.2,"rate_limit_rate":0.1,"realtime":false}`)
	const n = 3000
	count := map[int]int{}
	for i := range n {
		_, err := s.Embed(context.Background(), &llm.EmbedRequest{Input: []string{fmt.Sprintf("q%d", i)}})
		count[llm.AsError(err).Status*btoi(err != nil)]++
	}
	if got := float64(count[500]+count[503]) / n; math.Abs(got-0.2) > 0.03 {
		t.Errorf("error share %v, want about 0.2", got)
	}
	if got := float64(count[429]) / n; math.Abs(got-0.1) > 0.03 {
		t.Errorf("rate limit share %v, want about 0.1", got)
	}
}

// A retry of a failed embedding draws afresh, and a fixed sequence of
// calls replays exactly.
func TestEmbedRetryAndReplay(t *testing.T) {
	run := func() []string {
		s := newSim(t, `{"seed":1,"error_rate":0.5,"realtime":false}`)
		var out []string
		for range 40 {
			resp, err := s.Embed(context.Background(), &llm.EmbedRequest{Input: []string{"the same request"}})
			if err != nil {
				out = append(out, llm.AsError(err).Code)
				continue
			}
			out = append(out, fmt.Sprint(resp.Vectors[0][:4]))
		}
		return out
	}
	first := run()
	if !slices.Equal(first, run()) {
		t.Error("the same sequence of calls gave different outcomes")
	}
	ok := 0
	for _, o := range first {
		if strings.HasPrefix(o, "[") {
			ok++
			if o != first[slices.IndexFunc(first, func(s string) bool { return strings.HasPrefix(s, "[") })] {
				t.Fatal("successful repeats got different vectors")
			}
		}
	}
	if ok == 0 || ok == len(first) {
		t.Errorf("%d of %d calls succeeded; retries should draw afresh", ok, len(first))
	}
}

func TestEmbedHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, `{"hang_rate":1,"realtime":false}`)
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		_, err := s.Embed(ctx, &llm.EmbedRequest{Input: []string{"hi"}})
		if e := llm.AsError(err); e.Code != "upstream_timeout" || e.Class != llm.ClassTransient {
			t.Errorf("err = %v, want a transient upstream_timeout", err)
		}
		if time.Since(start) != time.Hour {
			t.Errorf("returned after %v, want when the deadline passed", time.Since(start))
		}
	})
}

// In realtime mode Embed answers after one TTFT draw, and a cancel ends the
// wait as a canceled call.
func TestEmbedRealtime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, `{"ttft":"300ms"}`)
		start := time.Now()
		if _, err := s.Embed(t.Context(), &llm.EmbedRequest{Input: []string{"hello"}}); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 300*time.Millisecond {
			t.Errorf("Embed took %v, want 300ms", got)
		}

		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start = time.Now()
		_, err := s.Embed(ctx, &llm.EmbedRequest{Input: []string{"hello"}})
		if llm.ClassOf(err) != llm.ClassCanceled || time.Since(start) != 100*time.Millisecond {
			t.Errorf("Embed = %v after %v, want canceled at 100ms", err, time.Since(start))
		}

		start = time.Now()
		if _, err := newSim(t, `{"ttft":"300ms","realtime":false}`).Embed(t.Context(), &llm.EmbedRequest{Input: []string{"hello"}}); err != nil || time.Since(start) != 0 {
			t.Errorf("without realtime: err %v after %v, want at once", err, time.Since(start))
		}
	})
}

func TestEmbedConcurrentUse(t *testing.T) {
	s := newSim(t, `{"error_rate":0.2,"realtime":false}`)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			s.Embed(context.Background(), &llm.EmbedRequest{Input: []string{fmt.Sprintf("q%d", i%4), "shared"}})
			s.Chat(context.Background(), ask(fmt.Sprintf("q%d", i%4)))
		})
	}
	wg.Wait()
}

func BenchmarkEmbed(b *testing.B) {
	s := newSim(b, `{"realtime":false,"embedding_dimensions":1536}`)
	req := &llm.EmbedRequest{Input: []string{
		"How many bolts does a robe take?",
		"Sextant routes each request to the cheapest model that can answer it well enough.",
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Embed(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
