package replay

import (
	"encoding/json"
	"testing"

	"github.com/sextant-router/sextant/internal/provider"
)

// FuzzNew checks that no options block makes New panic and that whatever it
// accepts has a usable latency model and data set.
func FuzzNew(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"dataset":"builtin:demo"}`, `{"dataset":"builtin:demo","ttft":"1s","tokens_per_second":3}`,
		`{"dataset":"builtin:demo","ttft":2.5}`, `{"dataset":"builtin:demo","record_model":"x"}`, `{"dataset":"/nonexistent"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, options string) {
		p, err := New(provider.Config{Model: "m", Upstream: strong, Options: json.RawMessage(options), OptionsPath: "o", BaseDir: t.TempDir()})
		if err != nil {
			return
		}
		r := p.(*Replay)
		if r.ttft < 0 || r.perToken < 0 || r.index.Len() == 0 || r.recordModel == "" {
			t.Fatalf("accepted unusable options %q: %+v", options, r)
		}
	})
}
