package learning

import (
	"slices"
	"testing"

	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

type recorder struct {
	name   string
	events *[]string
}

func (r recorder) Finished(d *store.Decision) {
	*r.events = append(*r.events, r.name+" finished "+d.RequestID)
}
func (r recorder) Feedback(d *store.Decision, score float64, previous *float64) {
	e := r.name + " feedback " + d.RequestID
	if previous != nil {
		e += " replaces"
	}
	*r.events = append(*r.events, e)
}

func decision(id string, learners ...any) *store.Decision {
	d := &store.Decision{RequestID: id}
	for _, l := range learners {
		d.Trace.Decisions = append(d.Trace.Decisions, trace.Decision{Kind: "x", Data: map[string]any{DataKey: l}})
	}
	return d
}

func TestDispatch(t *testing.T) {
	prev := 0.5
	tests := []struct {
		name string
		d    *store.Decision
		prev *float64
		want []string
	}{
		{"none named", decision("r1"), nil, nil},
		{"one named", decision("r2", "a"), nil, []string{"a finished r2", "a feedback r2"}},
		{"named twice counts once", decision("r3", "a", "a"), &prev, []string{"a finished r3", "a feedback r3 replaces"}},
		{"trace order", decision("r4", "b", "a"), nil, []string{"b finished r4", "a finished r4", "b feedback r4", "a feedback r4"}},
		{"unregistered and malformed ids skipped", decision("r5", "zzz", 7, ""), nil, nil},
		{"nil decision", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []string
			r := NewRegistry()
			r.Register("a", recorder{"a", &events})
			r.Register("b", recorder{"b", &events})
			r.Finished(tt.d)
			r.Feedback(tt.d, 1, tt.prev)
			if !slices.Equal(events, tt.want) {
				t.Errorf("events = %q, want %q", events, tt.want)
			}
		})
	}
}

func TestRegisterReplacesAndUnregisterOnlyOwn(t *testing.T) {
	var events []string
	r := NewRegistry()
	old, cur := recorder{"old", &events}, recorder{"new", &events}
	r.Register("a", old)
	r.Register("a", cur)
	r.Unregister("a", old) // a stale node going away must not remove its successor
	r.Finished(decision("r", "a"))
	if want := []string{"new finished r"}; !slices.Equal(events, want) {
		t.Fatalf("events = %q, want %q", events, want)
	}
	r.Unregister("a", cur)
	if _, ok := r.Lookup("a"); ok {
		t.Fatal("a still registered after Unregister")
	}
}

// A node built by a reload offers itself but only takes over when it
// serves (claims): a rejected reload's node never receives events.
func TestOfferAndClaim(t *testing.T) {
	var events []string
	r := NewRegistry()
	live, rejected, next := recorder{"live", &events}, recorder{"rejected", &events}, recorder{"next", &events}
	r.Offer("a", live) // first build: live at once
	r.Offer("a", rejected)
	r.Finished(decision("r1", "a"))
	r.Offer("a", next)
	r.Claim("a", live) // still the holder: no change
	r.Finished(decision("r2", "a"))
	r.Claim("a", next) // the accepted reload's node served
	r.Finished(decision("r3", "a"))
	want := []string{"live finished r1", "live finished r2", "next finished r3"}
	if !slices.Equal(events, want) {
		t.Fatalf("events = %q, want %q", events, want)
	}
}
