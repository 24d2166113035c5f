package knob

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRange(t *testing.T) {
	got := Range(0, 1, 11)
	if len(got) != 11 || got[0] != 0 || got[3] != 0.3 || got[7] != 0.7 || got[10] != 1 {
		t.Fatalf("Range = %v", got)
	}
	if r := Range(2, 5, 1); len(r) != 1 || r[0] != 2 {
		t.Fatalf("one point = %v", r)
	}
}

func TestSet(t *testing.T) {
	s := Spec{Field: "share", Min: 0, Max: 1, Default: []float64{0, 1}, SeedField: "seed"}
	route := json.RawMessage(`{"split":{"share":0.5,"a":"x","b":"y"}}`)
	out, err := s.Set(route, 0.25)
	if err != nil || string(out) != `{"split":{"a":"x","b":"y","share":0.25}}` {
		t.Fatalf("Set = %s, %v", out, err)
	}
	if string(route) != `{"split":{"share":0.5,"a":"x","b":"y"}}` {
		t.Fatal("Set changed its input")
	}
	out, err = s.SetSeed(out, 7)
	if err != nil || !strings.Contains(string(out), `"seed":7`) {
		t.Fatalf("SetSeed = %s, %v", out, err)
	}
	nested := Spec{Field: "gate.threshold", Default: []float64{0}, Integer: true}
	out, err = nested.Set(json.RawMessage(`{"cascade":{"tiers":["a","b"]}}`), 2.6)
	if err != nil || string(out) != `{"cascade":{"gate":{"threshold":3},"tiers":["a","b"]}}` {
		t.Fatalf("nested Set = %s, %v", out, err)
	}
	for _, bad := range []string{`"gpt-4"`, `{"a":{},"b":{}}`, `{"fallback":["a","b"]}`} {
		if _, err := s.Set(json.RawMessage(bad), 0.5); err == nil {
			t.Errorf("Set(%s) did not fail", bad)
		}
	}
	if _, err := (Spec{Field: "x"}).SetSeed(route, 1); err == nil {
		t.Error("SetSeed without a seed field did not fail")
	}
}

func TestRegister(t *testing.T) {
	Register("test-kind", Spec{Field: "k", Min: 0, Max: 2, Default: []float64{0, 2}})
	if s, ok := Lookup("test-kind"); !ok || s.Max != 2 {
		t.Fatalf("Lookup = %+v %v", s, ok)
	}
	found := false
	for _, k := range Kinds() {
		found = found || k == "test-kind"
	}
	if !found {
		t.Fatal("Kinds misses test-kind")
	}
	for _, bad := range []Spec{{Field: "", Default: []float64{0}}, {Field: "k", Min: 1, Max: 0, Default: []float64{0}}, {Field: "k"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%+v) did not panic", bad)
				}
			}()
			Register("bad-kind", bad)
		}()
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	Register("test-kind", Spec{Field: "k", Default: []float64{0}})
}
