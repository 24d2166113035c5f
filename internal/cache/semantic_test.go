package cache

import (
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
)

func TestSemanticLookup(t *testing.T) {
	now := time.Unix(1000, 0)
	later := now.Add(time.Minute)
	a, b := &Entry{Model: "a", Response: &llm.Response{}}, &Entry{Model: "b", Response: &llm.Response{}}
	tests := []struct {
		name      string
		scope     string
		vec       []float32
		threshold float64
		at        time.Time
		want      *Entry
	}{
		{"identical", "s", []float32{1, 0, 0}, 0.95, now, a},
		{"scaled is identical", "s", []float32{3, 0, 0}, 0.95, now, a},
		{"nearest of two", "s", []float32{0.1, 1, 0}, 0.95, now, b},
		{"below threshold", "s", []float32{1, 1, 0}, 0.95, now, nil},
		{"above threshold", "s", []float32{1, 0.9, 0}, 0.74, now, a},
		{"other scope", "t", []float32{1, 0, 0}, 0.5, now, nil},
		{"other length", "s", []float32{1, 0}, 0.5, now, nil},
		{"zero vector", "s", []float32{0, 0, 0}, 0, now, nil},
		{"expired", "s", []float32{1, 0, 0}, 0.5, later, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSemantic(10)
			s.Add("s", []float32{1, 0, 0}, a, now.Add(time.Second))
			s.Add("s", []float32{0, 1, 0}, b, now.Add(time.Second))
			got, _, ok := s.Lookup(tt.scope, tt.vec, tt.threshold, tt.at)
			if ok != (tt.want != nil) || ok && got.Model != tt.want.Model {
				t.Fatalf("got %v %v, want %v", got, ok, tt.want)
			}
		})
	}
}

func TestSemanticLRU(t *testing.T) {
	now := time.Unix(1000, 0)
	exp := now.Add(time.Hour)
	s := NewSemantic(2)
	x, y, z := &Entry{Model: "x", Response: &llm.Response{}}, &Entry{Model: "y", Response: &llm.Response{}}, &Entry{Model: "z", Response: &llm.Response{}}
	s.Add("s", []float32{1, 0, 0}, x, exp)
	s.Add("s", []float32{0, 1, 0}, y, exp)
	s.Add("o", []float32{0, 1, 0}, y, exp) // another scope has its own bound
	if _, _, ok := s.Lookup("s", []float32{1, 0, 0}, 0.99, now); !ok {
		t.Fatal("x missing")
	}
	s.Add("s", []float32{0, 0, 1}, z, exp) // evicts y, the least recently used
	if _, _, ok := s.Lookup("s", []float32{0, 1, 0}, 0.99, now); ok {
		t.Fatal("y was not evicted")
	}
	if s.Len("s") != 2 || s.Len("o") != 1 {
		t.Fatalf("len s %d o %d", s.Len("s"), s.Len("o"))
	}
	s.Resize(1)
	if s.Len("s") != 1 {
		t.Fatalf("after resize %d", s.Len("s"))
	}
	if got, _, ok := s.Lookup("s", []float32{0, 0, 1}, 0.99, now); !ok || got.Model != "z" {
		t.Fatalf("z lost: %v", got)
	}
}

func TestScope(t *testing.T) {
	base := func() *llm.Request {
		return &llm.Request{Messages: []llm.Message{{Role: "system", Content: "S"}, {Role: "user", Content: "Q one"}}}
	}
	s0, text, ok := Scope("t", "r", base())
	if !ok || text != "Q one" {
		t.Fatalf("base: %q %v", text, ok)
	}
	tests := []struct {
		name     string
		tenant   string
		route    string
		mut      func(*llm.Request)
		ok, same bool
	}{
		{"other question", "t", "r", func(r *llm.Request) { r.Messages[1].Content = "Q two" }, true, true},
		{"stream and user", "t", "r", func(r *llm.Request) { r.Stream, r.User = true, "u" }, true, true},
		{"system", "t", "r", func(r *llm.Request) { r.Messages[0].Content = "S2" }, true, false},
		{"developer added", "t", "r", func(r *llm.Request) {
			r.Messages = append([]llm.Message{{Role: "developer", Content: "D"}}, r.Messages...)
		}, true, false},
		{"top_p", "t", "r", func(r *llm.Request) { v := 0.5; r.TopP = &v }, true, false},
		{"response_format", "t", "r", func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: "json_object"} }, true, false},
		{"tenant", "u", "r", nil, true, false},
		{"route", "t", "q", nil, true, false},
		{"last not user", "t", "r", func(r *llm.Request) { r.Messages[1].Role = "assistant" }, false, false},
		{"empty", "t", "r", func(r *llm.Request) { r.Messages = nil }, false, false},
		{"image", "t", "r", func(r *llm.Request) {
			r.Messages[1].Parts = []llm.ContentPart{{Type: "text", Text: "Q one"}, {Type: "image_url"}}
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			if tt.mut != nil {
				tt.mut(r)
			}
			s, _, ok := Scope(tt.tenant, tt.route, r)
			if ok != tt.ok || (ok && (s == s0) != tt.same) {
				t.Fatalf("ok %v same %v, want %v %v", ok, s == s0, tt.ok, tt.same)
			}
		})
	}
}

func TestSemanticConfigValidate(t *testing.T) {
	tests := []struct {
		c    SemanticConfig
		path string
	}{
		{SemanticConfig{EmbedModel: "e", Threshold: 0.9, MaxEntries: 10}, ""},
		{SemanticConfig{EmbedModel: "e"}, ""},
		{SemanticConfig{}, "cache.semantic.embed_model"},
		{SemanticConfig{EmbedModel: "e", Threshold: 1.5}, "cache.semantic.threshold"},
		{SemanticConfig{EmbedModel: "e", Threshold: -0.1}, "cache.semantic.threshold"},
		{SemanticConfig{EmbedModel: "e", MaxEntries: -1}, "cache.semantic.max_entries"},
	}
	for _, tt := range tests {
		c := Config{Enabled: true, Semantic: &tt.c}
		err := c.Validate("cache")
		if tt.path == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.c, err)
			}
			continue
		}
		ce, ok := err.(*conf.Error)
		if !ok || ce.Path != tt.path {
			t.Errorf("%+v: err %v, want path %s", tt.c, err, tt.path)
		}
	}
	if d := (&SemanticConfig{}); d.ThresholdOrDefault() != DefaultThreshold || d.MaxOrDefault() != DefaultSemanticMaxEntries {
		t.Fatal("defaults")
	}
}

// A hit is a copy: changing it does not change what the next hit gets.
func TestSemanticHitIsACopy(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewSemantic(4)
	s.Add("s", []float32{1, 2}, &Entry{Model: "m", Response: &llm.Response{ID: "id"}}, now.Add(time.Hour))
	got, sim, ok := s.Lookup("s", []float32{1, 2}, 0.99, now)
	if !ok || sim < 0.999 {
		t.Fatalf("miss %v %v", ok, sim)
	}
	got.Model, got.Response.ID = "changed", "changed"
	if again, _, _ := s.Lookup("s", []float32{1, 2}, 0.99, now); again.Model != "m" || again.Response.ID != "id" {
		t.Fatalf("entry shared: %+v", again)
	}
}

// BenchmarkSemanticLookup is a full scope (the default 5000 entries) of
// 512-dimension vectors, scanned linearly.
func BenchmarkSemanticLookup(b *testing.B) {
	const dim = 512
	now := time.Unix(1000, 0)
	s := NewSemantic(DefaultSemanticMaxEntries)
	vec := func(seed int) []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32((seed*31+i*17)%97) - 48
		}
		return v
	}
	for i := range DefaultSemanticMaxEntries {
		s.Add("s", vec(i), &Entry{Model: "m", Response: &llm.Response{}}, now.Add(time.Hour))
	}
	q := vec(7)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := s.Lookup("s", q, 0.999, now); !ok {
			b.Fatal("miss")
		}
	}
}
