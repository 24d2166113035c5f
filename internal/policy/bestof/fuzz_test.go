package bestof

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
	for _, s := range []string{`{"candidates":["a","b"],"select":"vote"}`, `{"candidates":["a","b"],"select":"gate","gates":{"test":{}}}`, `{"candidates":["a","b"],"select":"judge","judge":{"model":"a"},"deadline":"1s"}`, `{"candidates":["a","b"],"select":"centroid","embedding":{"model":"a"}}`, `[]`, `null`, `{"select":3}`} {
		f.Add(s)
	}
	e := newEnv(map[string]*policytest.Model{"a": {}, "b": {}})
	f.Fuzz(func(t *testing.T, cfg string) {
		_, err := New(e, "routes.r.best_of", json.RawMessage(cfg))
		var ce *conf.Error
		if err != nil && (!errors.As(err, &ce) || !strings.HasPrefix(ce.Path, "routes.r.best_of")) {
			t.Fatalf("New(%s) = %v, want a *conf.Error under routes.r.best_of", cfg, err)
		}
	})
}
