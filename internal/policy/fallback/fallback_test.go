package fallback

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// leaf answers with a fixed outcome and counts its calls.
type leaf struct {
	name  string
	err   error
	text  string
	fin   string
	calls *[]string
}

func (l *leaf) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	*l.calls = append(*l.calls, l.name)
	if l.err != nil {
		return nil, l.err
	}
	fin := l.fin
	if fin == "" {
		fin = "stop"
	}
	return &policy.Outcome{Model: l.name, Response: &llm.Response{Choices: []llm.Choice{{Message: llm.Message{Content: l.text}, FinishReason: fin}}}}, nil
}

type builder struct {
	leaves map[string]*leaf
}

func (b *builder) HasModel(name string) bool { _, ok := b.leaves[name]; return ok }

func (b *builder) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return nil, conf.Errorf(path, "test builder only knows names")
	}
	l, ok := b.leaves[name]
	if !ok {
		return nil, conf.Errorf(path, "unknown model %q", name)
	}
	return l, nil
}

func TestFallback(t *testing.T) {
	transient := &llm.Error{Status: 503, Message: "down", Class: llm.ClassTransient}
	caller := &llm.Error{Status: 400, Message: "bad", Class: llm.ClassCaller}
	tests := []struct {
		name      string
		cfg       string
		leaves    []*leaf
		wantModel string
		wantCalls string
		wantErr   string
	}{
		{"first answers", `["a","b"]`, []*leaf{{name: "a", text: "x"}, {name: "b", text: "y"}}, "a", "a", ""},
		{"fails over on transient", `["a","b"]`, []*leaf{{name: "a", err: transient}, {name: "b", text: "y"}}, "b", "a,b", ""},
		{"caller fault stops", `["a","b"]`, []*leaf{{name: "a", err: caller}, {name: "b", text: "y"}}, "", "a", "bad"},
		{"all fail returns last error", `["a","b"]`, []*leaf{{name: "a", err: caller}, {name: "b", err: transient}}, "", "a", "bad"},
		{"all transient", `["a","b"]`, []*leaf{{name: "a", err: transient}, {name: "b", err: transient}}, "", "a,b", "down"},
		{"empty answer fails the check", `["a","b"]`, []*leaf{{name: "a", text: ""}, {name: "b", text: "y"}}, "b", "a,b", ""},
		{"empty allowed", `{"candidates":["a","b"],"reject_empty":false}`, []*leaf{{name: "a", text: ""}, {name: "b", text: "y"}}, "a", "a", ""},
		{"finish reason check", `{"candidates":["a","b"],"reject_finish":["length"]}`, []*leaf{{name: "a", text: "x", fin: "length"}, {name: "b", text: "y"}}, "b", "a,b", ""},
		{"best seen when later fails", `{"candidates":["a","b"],"reject_finish":["length"]}`, []*leaf{{name: "a", text: "x", fin: "length"}, {name: "b", err: transient}}, "a", "a,b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			b := &builder{leaves: map[string]*leaf{}}
			for _, l := range tt.leaves {
				l.calls = &calls
				b.leaves[l.name] = l
			}
			n, err := New(b, "routes.r.fallback", json.RawMessage(tt.cfg))
			if err != nil {
				t.Fatal(err)
			}
			c := &policy.Call{Request: &llm.Request{}, Trace: trace.New(time.Now())}
			out, err := n.Serve(t.Context(), c)
			if got := strings.Join(calls, ","); got != tt.wantCalls {
				t.Errorf("calls = %s, want %s", got, tt.wantCalls)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || out.Model != tt.wantModel {
				t.Fatalf("out = %+v err = %v, want model %s", out, err, tt.wantModel)
			}
			if len(c.Trace.Snapshot().Decisions) == 0 {
				t.Error("no decision traced")
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	b := &builder{leaves: map[string]*leaf{"a": {name: "a"}}}
	tests := []struct{ cfg, want string }{
		{`[]`, "routes.r.fallback: at least one candidate is required"},
		{`["a","gpt-5"]`, `routes.r.fallback[1]: unknown model "gpt-5"`},
		{`{"candidates":["a"],"reject_finish":["tired"]}`, `routes.r.fallback.reject_finish[0]: unknown finish reason "tired"`},
		{`{"candidates":["a"],"retries":3}`, `routes.r.fallback.retries: unknown field`},
		{`{"candidates":["zz"]}`, `routes.r.fallback.candidates[0]: unknown model "zz"`},
	}
	for _, tt := range tests {
		_, err := New(b, "routes.r.fallback", json.RawMessage(tt.cfg))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("New(%s) err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func (*builder) Model(string) (*catalog.Model, bool) { return nil, false }

func (*builder) Path(p string) string { return p }
