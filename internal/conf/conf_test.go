package conf

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type block struct {
	Name    string            `json:"name"`
	Timeout Duration          `json:"timeout"`
	Items   []item            `json:"items"`
	Labels  map[string]string `json:"labels"`
	Key     Secret            `json:"key"`
}

type item struct {
	Weight float64 `json:"weight"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr string
	}{
		{"ok", `{"name":"a","timeout":"1.5s","items":[{"weight":1}],"labels":{"x":"y"}}`, ""},
		{"seconds as number", `{"timeout":2}`, ""},
		{"null leaves value", `null`, ""},
		{"unknown field", `{"nmae":"a"}`, "routes.r.nmae: unknown field"},
		{"nested unknown field", `{"items":[{"weight":1},{"wieght":2}]}`, "routes.r.items[1].wieght: unknown field"},
		{"wrong type", `{"items":[{"weight":"heavy"}]}`, "routes.r.items[0].weight: expected a number, got string"},
		{"wrong type string", `{"name":3}`, "routes.r.name: expected a string, got number"},
		{"bad duration", `{"timeout":"soon"}`, `routes.r.timeout: invalid duration "soon"`},
		{"negative duration", `{"timeout":"-1s"}`, `must not be negative`},
		{"duplicate key", `{"name":"a","name":"b"}`, `routes.r`},
		{"trailing data", `{"name":"a"} {}`, `routes.r`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b block
			err := Decode("routes.r", json.RawMessage(tt.raw), &b)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if _, ok := err.(*Error); !ok {
				t.Errorf("err is %T, want *conf.Error", err)
			}
		})
	}
	var b block
	if err := Decode("", json.RawMessage(`{"timeout":"250ms"}`), &b); err != nil || b.Timeout.D() != 250*time.Millisecond {
		t.Fatalf("timeout = %v, err %v", b.Timeout, err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("sk-very-secret")
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "key", s)
	js, _ := json.Marshal(struct{ K Secret }{s})
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %s %#v", s, s, s), sb.String(), string(js)} {
		if strings.Contains(out, "very-secret") {
			t.Errorf("secret leaked: %q", out)
		}
	}
	if s.Reveal() != "sk-very-secret" {
		t.Error("Reveal lost the value")
	}
}

func TestJoin(t *testing.T) {
	tests := []struct{ base, field, want string }{
		{"", "models", "models"},
		{"models", "[1]", "models[1]"},
		{"routes.auto", "fallback", "routes.auto.fallback"},
		{"x", "", "x"},
	}
	for _, tt := range tests {
		if got := Join(tt.base, tt.field); got != tt.want {
			t.Errorf("Join(%q,%q) = %q, want %q", tt.base, tt.field, got, tt.want)
		}
	}
}
