package cascade

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
)

func TestSettled(t *testing.T) {
	pass := gate.Verdict{Gate: "p", Score: 1, Pass: true}
	fail := gate.Verdict{Gate: "f", Score: 0}
	skip := gate.Verdict{Gate: "s", Skipped: true}
	comb := func(rule string, pass bool, vs ...gate.Verdict) gate.Verdict {
		return gate.Verdict{Gate: rule, Rule: rule, Pass: pass, Score: 0.5, Verdicts: vs}
	}
	tests := []struct {
		name    string
		v       gate.Verdict
		byScore bool
		want    bool
	}{
		{"a single gate that judged", fail, false, true},
		{"a skipped gate", skip, false, false},
		{"all failing for good", comb(gate.RuleAll, false, skip, fail), false, true},
		{"all passing with a child still to judge", comb(gate.RuleAll, true, pass, skip), false, false},
		{"all passing for good", comb(gate.RuleAll, true, pass, pass), false, true},
		{"any passing for good", comb(gate.RuleAny, true, skip, pass), false, true},
		{"any failing with a child still to judge", comb(gate.RuleAny, false, fail, skip), false, false},
		{"weighted with a child still to judge", comb(gate.RuleWeighted, false, fail, skip), false, false},
		{"weighted complete", comb(gate.RuleWeighted, false, fail, pass), false, true},
		{"a score needs every gate", comb(gate.RuleAll, false, skip, fail), true, false},
		{"nested all in any", comb(gate.RuleAny, true, comb(gate.RuleAll, true, pass, pass), skip), false, true},
		{"nested undecided", comb(gate.RuleAll, false, comb(gate.RuleAny, false, fail, skip), pass), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := settled(tt.v, tt.byScore); got != tt.want {
				t.Fatalf("settled = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzNew checks that no config block makes New panic, and that every
// rejected block is rejected with a path under the cascade's.
func FuzzNew(f *testing.F) {
	for _, s := range []string{
		`{"gates":{"test":{}},"tiers":["weak","strong"]}`,
		`{"threshold":{"default":0.5,"tiers":{"pro":0.7}},"return":"best","gates":{"test":{}},"tiers":[{"route":"weak","check_every":10},"strong"]}`,
		`{"tiers":[{"name":"x","route":{"model":"weak"},"gates":[{"test":{}}]},{"model":"strong"}]}`,
		`{"tiers":[]}`, `[]`, `null`, `{"threshold":"x"}`,
	} {
		f.Add(s)
	}
	e := newEnv(fleet())
	f.Fuzz(func(t *testing.T, cfg string) {
		n, err := New(e, "routes.r.cascade", json.RawMessage(cfg))
		if err == nil && n == nil {
			t.Fatal("no node and no error")
		}
		var ce *conf.Error
		if err != nil && (!errors.As(err, &ce) || !strings.HasPrefix(ce.Path, "routes.r.cascade")) {
			t.Fatalf("New(%s) = %v, want a *conf.Error under routes.r.cascade", cfg, err)
		}
	})
}
