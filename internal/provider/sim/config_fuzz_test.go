package sim

import (
	"encoding/json"
	"testing"

	"github.com/sextant-router/sextant/internal/provider"
)

// FuzzNew checks that no options block makes New panic and that whatever it
// accepts is within the documented bounds.
func FuzzNew(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `{"seed":1}`, `{"ttft":"200ms"}`, `{"ttft":{"p50":"1s","p99":"2s"}}`, `{"ttft":{"p50":3}}`,
		`{"output_tokens":{"min":1,"max":5}}`, `{"output_tokens":7}`, `{"error_rate":0.5,"hang_rate":0.5}`,
		`{"reply":"{{.Prompt}}"}`, `{"retry_after":"1m"}`, `{"tokens_per_second":1e-300}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, options string) {
		p, err := New(provider.Config{Model: "m", Upstream: "u", Options: json.RawMessage(options), OptionsPath: "o"})
		if err != nil {
			return
		}
		s := p.(*Sim)
		r := s.rates
		if s.ttft.P99 < s.ttft.P50 || s.ttft.P50 < 0 || s.perToken < 0 ||
			s.outputTokens.Min < 1 || s.outputTokens.Max < s.outputTokens.Min || s.outputTokens.Max > maxOutputTokens ||
			r.rateLimit < 0 || r.err < 0 || r.hang < 0 || r.streamBreak < 0 || r.rateLimit+r.err+r.hang+r.streamBreak > 1+1e-9 {
			t.Fatalf("accepted out-of-bounds options %q: %+v", options, s)
		}
	})
}
