package model

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

type builder struct{}

func (builder) Build(string, json.RawMessage) (policy.Node, error) { return nil, nil }
func (builder) HasModel(name string) bool                          { return name == "gpt-4" }

// exec records which model it was asked for.
type exec struct{ called string }

func (e *exec) Call(_ context.Context, _ *policy.Call, model string, _ *llm.Request) (*policy.Outcome, error) {
	e.called = model
	return &policy.Outcome{Model: model, Response: &llm.Response{}}, nil
}
func (e *exec) Embed(context.Context, *policy.Call, string, *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	return nil, nil
}
func (e *exec) Model(string) (*catalog.Model, bool) { return nil, false }

func TestNew(t *testing.T) {
	tests := []struct{ raw, wantErr string }{
		{`"gpt-4"`, ""},
		{`{"name":"gpt-4"}`, ""},
		{`"gpt-5"`, `routes.r.model: unknown model "gpt-5"`},
		{`{"name":"gpt-5"}`, `routes.r.model.name: unknown model "gpt-5"`},
		{`""`, `routes.r.model: a model name is required`},
		{`{"nmae":"gpt-4"}`, `routes.r.model.nmae: unknown field`},
	}
	for _, tt := range tests {
		_, err := New(builder{}, "routes.r.model", json.RawMessage(tt.raw))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)) {
			t.Errorf("New(%s) = %v, want %q", tt.raw, err, tt.wantErr)
		}
	}
}

func TestServeCallsTheModel(t *testing.T) {
	n, err := New(builder{}, "routes.r.model", json.RawMessage(`"gpt-4"`))
	if err != nil {
		t.Fatal(err)
	}
	e := &exec{}
	c := &policy.Call{Request: &llm.Request{}, Exec: e, Trace: trace.New(time.Now())}
	out, err := n.Serve(t.Context(), c)
	if err != nil || out.Model != "gpt-4" || e.called != "gpt-4" {
		t.Fatalf("out %+v err %v called %q", out, err, e.called)
	}
	if d := c.Trace.Snapshot().Decisions; len(d) != 1 || d[0].Kind != "model" || d[0].Decision != "gpt-4" {
		t.Errorf("decisions = %+v", d)
	}
}

func (builder) Model(string) (*catalog.Model, bool) { return nil, false }

func (builder) Path(p string) string { return p }
