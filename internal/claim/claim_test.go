package claim

import (
	"slices"
	"testing"
)

func TestRegistry(t *testing.T) {
	var r Registry[*int]
	live, rejected, next := new(int), new(int), new(int)
	steps := []struct {
		name string
		do   func()
		want *int
	}{
		{"empty", func() {}, nil},
		{"first offer is live", func() { r.Offer("x", live) }, live},
		{"a later offer does not displace it", func() { r.Offer("x", rejected) }, live},
		{"the holder's claim changes nothing", func() { r.Claim("x", live) }, live},
		{"a new node's claim takes over", func() { r.Claim("x", next) }, next},
		{"unregistering a non-holder does nothing", func() { r.Unregister("x", live) }, next},
		{"unregistering the holder removes it", func() { r.Unregister("x", next) }, nil},
		{"register replaces", func() { r.Register("x", live); r.Register("x", rejected) }, rejected},
	}
	for _, s := range steps {
		s.do()
		got, ok := r.Lookup("x")
		if got != s.want || ok != (s.want != nil) {
			t.Fatalf("%s: holder %p (%v), want %p", s.name, got, ok, s.want)
		}
	}
	r.Offer("a", live)
	if got := r.Names(); !slices.Equal(got, []string{"a", "x"}) {
		t.Fatalf("Names = %q", got)
	}
}
