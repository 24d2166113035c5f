package telemetry

import (
	"net/http"
	"testing"
)

func TestTraceIDs(t *testing.T) {
	const uuid = "01936f3e-8a2b-7c4d-9e5f-0a1b2c3d4e5f"
	tests := []struct {
		name        string
		traceparent string
		ratio       float64
		requestID   string
		wantTrace   string // "random" for any valid id
		wantParent  string
	}{
		{"request id becomes the trace id", "", 1, uuid, "01936f3e8a2b7c4d9e5f0a1b2c3d4e5f", ""},
		{"client trace joined", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1, uuid, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"sampled parent wins over ratio 0", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0, uuid, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"unsampled parent at ratio 0", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 0, uuid, "", ""},
		{"unsampled parent at ratio 1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 1, uuid, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"all-zero trace id ignored", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", 1, uuid, "01936f3e8a2b7c4d9e5f0a1b2c3d4e5f", ""},
		{"all-zero span id ignored", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", 1, uuid, "01936f3e8a2b7c4d9e5f0a1b2c3d4e5f", ""},
		{"upper case ignored", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 1, uuid, "01936f3e8a2b7c4d9e5f0a1b2c3d4e5f", ""},
		{"version ff ignored", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1, uuid, "01936f3e8a2b7c4d9e5f0a1b2c3d4e5f", ""},
		{"garbage ignored", "hello", 1, uuid, "01936f3e8a2b7c4d9e5f0a1b2c3d4e5f", ""},
		{"version 00 with extra field ignored", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", 1, uuid, "01936f3e8a2b7c4d9e5f0a1b2c3d4e5f", ""},
		{"future version with extra field", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", 1, uuid, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"not a uuid gets a random id", "", 1, "req-1", "random", ""},
		{"ratio 0 traces nothing", "", 0, uuid, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.traceparent != "" {
				h.Set("Traceparent", tt.traceparent)
			}
			tid, parent := NewSampler(tt.ratio).TraceIDs(h, tt.requestID)
			if tt.wantTrace == "random" {
				if len(tid) != 32 || tid == "00000000000000000000000000000000" {
					t.Errorf("trace id = %q, want a random one", tid)
				}
			} else if tid != tt.wantTrace {
				t.Errorf("trace id = %q, want %q", tid, tt.wantTrace)
			}
			if parent != tt.wantParent {
				t.Errorf("parent = %q, want %q", parent, tt.wantParent)
			}
		})
	}
}

func TestSamplerRatio(t *testing.T) {
	s := NewSampler(0.25)
	kept := 0
	const n = 20000
	for range n {
		if tid, _ := s.TraceIDs(http.Header{}, "not-a-uuid"); tid != "" {
			kept++
		}
	}
	if share := float64(kept) / n; share < 0.22 || share > 0.28 {
		t.Errorf("kept %.3f of requests, want about 0.25", share)
	}
}

func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-")
	f.Fuzz(func(t *testing.T, v string) {
		tid, sid, _, ok := parseTraceparent(v)
		if ok && (!tid.IsValid() || !sid.IsValid()) {
			t.Errorf("accepted invalid ids from %q", v)
		}
	})
}
