package state

import (
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewMemory(3)
	s.now = func() time.Time { return now }
	s.Set("a", "1", time.Second)
	s.Set("b", "2", 10*time.Second)
	if v, ok := s.Get("a"); !ok || v != "1" {
		t.Fatalf("a = %q %v", v, ok)
	}
	now = now.Add(2 * time.Second)
	if _, ok := s.Get("a"); ok {
		t.Fatal("expired entry returned")
	}
	s.Set("c", "3", time.Minute)
	s.Set("d", "4", time.Minute)
	s.Set("e", "5", time.Minute) // full: evicts the soonest expiry (b)
	if s.Len() > 3 {
		t.Fatalf("len %d over capacity", s.Len())
	}
	if _, ok := s.Get("b"); ok {
		t.Error("b should have been evicted first")
	}
	s.Delete("c")
	if _, ok := s.Get("c"); ok {
		t.Error("deleted entry returned")
	}
}
