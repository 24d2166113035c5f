package race

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/policy/policytest"
)

// FuzzNew checks that no config block makes New panic, and that every
// rejected block is rejected with a *conf.Error under the node's path.
func FuzzNew(f *testing.F) {
	for _, s := range []string{`{"candidates":["a","b"]}`, `{"candidates":["a","b"],"stagger":"1s","gates":{"test":{}},"fallback":"a"}`, `{"candidates":["a","b"],"hedge":{"delay":"p95","max":1,"budget":0.1}}`, `{"candidates":[]}`, `[]`, `null`, `{"hedge":"x"}`} {
		f.Add(s)
	}
	e := newEnv(map[string]*policytest.Model{"a": {}, "b": {}})
	f.Fuzz(func(t *testing.T, cfg string) {
		_, err := New(e, "routes.r.race", json.RawMessage(cfg))
		var ce *conf.Error
		if err != nil && (!errors.As(err, &ce) || !strings.HasPrefix(ce.Path, "routes.r.race")) {
			t.Fatalf("New(%s) = %v, want a *conf.Error under routes.r.race", cfg, err)
		}
	})
}
