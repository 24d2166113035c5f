package rules

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the timezone tests must not depend on the machine's zoneinfo

	"go.yaml.in/yaml/v3"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// fakeModel stands in for a model leaf: it answers with its own name.
type fakeModel struct{ name string }

func (f *fakeModel) Serve(context.Context, *policy.Call) (*policy.Outcome, error) {
	return &policy.Outcome{Model: f.name}, nil
}

// firstOf is a test-only kind: {first: [a, b]} serves its first subtree.
type firstOf struct{ subs []policy.Node }

func (f *firstOf) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	return f.subs[0].Serve(ctx, c)
}

// testBuilder builds model names from its catalog as fake models, the test
// kind "first", and any registered kind (so rules nest).
type testBuilder struct{ models []string }

var models = testBuilder{models: []string{"gpt-4", "mixtral", "claude", "small"}}

func (b testBuilder) HasModel(name string) bool {
	for _, m := range b.models {
		if m == name {
			return true
		}
	}
	return false
}

func (b testBuilder) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		if !b.HasModel(name) {
			return nil, conf.Errorf(path, "unknown model %q", name)
		}
		return &fakeModel{name: name}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 {
		return nil, conf.Errorf(path, "want a model name or {kind: config}")
	}
	for kind, sub := range m {
		at := conf.Join(path, kind)
		if kind == "first" {
			var list []json.RawMessage
			if err := conf.Decode(at, sub, &list); err != nil {
				return nil, err
			}
			f := &firstOf{}
			for i, s := range list {
				n, err := b.Build(conf.Index(at, i), s)
				if err != nil {
					return nil, err
				}
				f.subs = append(f.subs, n)
			}
			return f, nil
		}
		factory, ok := policy.Lookup(kind)
		if !ok {
			return nil, conf.Errorf(path, "unknown kind %q", kind)
		}
		return factory(b, at, sub)
	}
	panic("unreachable")
}

const nodePath = "routes.auto.rules"

// yamlBlock converts a YAML config block to the JSON that factories get.
func yamlBlock(t testing.TB, src string) json.RawMessage {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatalf("bad test YAML: %v", err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("YAML to JSON: %v", err)
	}
	return raw
}

func newNode(t testing.TB, src string) *Node {
	t.Helper()
	n, err := New(models, nodePath, yamlBlock(t, src))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n.(*Node)
}

var noon = time.Date(2026, 3, 14, 12, 30, 0, 0, time.UTC) // a Saturday

type callOpt func(*policy.Call)

func newCall(req *llm.Request, opts ...callOpt) *policy.Call {
	c := &policy.Call{Request: req, Trace: trace.New(noon), Now: noon}
	for _, o := range opts {
		o(c)
	}
	return c
}

func ask(text string) *llm.Request {
	return &llm.Request{Model: "auto", Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}}
}

func serve(t *testing.T, n *Node, c *policy.Call) string {
	t.Helper()
	out, err := n.Serve(context.Background(), c)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	return out.Model
}

// TestExampleConfig runs the config of the package documentation.
func TestExampleConfig(t *testing.T) {
	n := newNode(t, `
rules:
  - name: long-or-code
    when: 'request.tokens > 1500 || request.has_code'
    route: gpt-4
  - when: 'caller.tier == "free"'
    route: mixtral
  - when: 'matches(request.last_user, "(?i)prove|derive")'
    route: {first: [claude, mixtral]}
default: small
`)
	tests := []struct {
		name, text, tier string
		want             string
		decision, reason string
	}{
		{"code", "fix\n```go\nx := 1\n```", "free", "gpt-4", "long-or-code -> gpt-4", "matched: request.tokens > 1500 || request.has_code"},
		{"long", strings.Repeat("word ", 2000), "", "gpt-4", "long-or-code -> gpt-4", "matched: request.tokens > 1500 || request.has_code"},
		{"free tier", "prove it", "free", "mixtral", `rules[1] -> mixtral`, `matched: caller.tier == "free"`},
		{"regex", "Please PROVE that", "pro", "claude", `rules[2] -> first`, `matched: matches(request.last_user, "(?i)prove|derive")`},
		{"default", "hello", "pro", "small", "default -> small", "no rule matched; default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCall(ask(tt.text), func(c *policy.Call) { c.Caller.Tier = tt.tier })
			if got := serve(t, n, c); got != tt.want {
				t.Errorf("routed to %s, want %s", got, tt.want)
			}
			ds := c.Trace.Snapshot().Decisions
			if len(ds) != 1 {
				t.Fatalf("decisions = %+v, want one", ds)
			}
			want := trace.Decision{Node: nodePath, Kind: "rules", Decision: tt.decision, Reason: tt.reason}
			got := ds[0]
			got.AtMS = 0
			if got.Node != want.Node || got.Kind != want.Kind || got.Decision != want.Decision || got.Reason != want.Reason || got.Data != nil {
				t.Errorf("decision = %+v, want %+v", got, want)
			}
		})
	}
}

// TestDocExample builds the example of the package documentation, with the
// test kind "first" standing in for fallback.
func TestDocExample(t *testing.T) {
	n := newNode(t, `
timezone: America/New_York
rules:
  - name: long-or-code
    when: 'request.tokens > 1500 || request.has_code'
    route: gpt-4
  - name: free-tier
    when: 'caller.tier == "free"'
    route: mixtral
  - name: proofs
    when: 'matches(request.last_user, "(?i)prove|derive")'
    route: {first: [gpt-4, mixtral]}
  - name: night-batch
    when: '(hour >= 22 || hour < 6) && headers[?"x-priority"].orValue("") != "high"'
    route: small
  - name: metadata
    when: '"team" in caller.metadata && caller.metadata.team == "ml"'
    route: claude
default: mixtral
`)
	night := func(c *policy.Call) { c.Now = time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC) } // 23:00 in New York
	high := func(c *policy.Call) { c.Header = http.Header{"X-Priority": {"high"}} }
	ml := func(c *policy.Call) { c.Caller.Metadata = map[string]string{"team": "ml"} }
	for _, tt := range []struct {
		name string
		opts []callOpt
		want string
	}{
		{"night", []callOpt{night}, "small"},
		{"night but urgent", []callOpt{night, high}, "mixtral"},
		{"team", []callOpt{ml}, "claude"},
	} {
		if got := serve(t, n, newCall(ask("hello"), tt.opts...)); got != tt.want {
			t.Errorf("%s: routed to %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestFeatureVariables checks every request variable in a rule, each
// against a request that has it and one that does not.
func TestFeatureVariables(t *testing.T) {
	five := 5
	plain := ask("hello")
	tests := []struct {
		when string
		yes  *llm.Request
		no   *llm.Request
	}{
		{`request.chars == 5`, plain, ask("hi")},
		{`request.tokens == 1`, plain, ask("hello world")},
		{`request.messages == 2`, &llm.Request{Messages: []llm.Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}}}, plain},
		{`request.user_turns == 2`, &llm.Request{Messages: []llm.Message{{Role: "user"}, {Role: "assistant"}, {Role: "user"}}}, plain},
		{`request.last_user == "b"`, &llm.Request{Messages: []llm.Message{{Role: "user", Content: "a"}, {Role: "user", Content: "b"}}}, plain},
		{`request.last_user_chars > 3`, plain, ask("hi")},
		{`request.system`, &llm.Request{Messages: []llm.Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}}}, plain},
		{`request.has_code`, ask("```\nx\n```"), plain},
		{`"python" in request.code_langs`, ask("```py\nx\n```"), ask("```go\nx\n```")},
		{`request.has_math`, ask("2 + 2"), plain},
		{`request.question_words >= 2`, ask("why and how"), ask("why")},
		{`request.multi_step`, ask("step by step"), plain},
		{`request.language == "cyrillic"`, ask("привет"), plain},
		{`request.tools > 0`, &llm.Request{Tools: []llm.Tool{{Type: "function"}}, Messages: plain.Messages}, plain},
		{`request.json`, &llm.Request{ResponseFormat: &llm.ResponseFormat{Type: "json_object"}}, plain},
		{`request.logprobs`, &llm.Request{Logprobs: true}, plain},
		{`request.stream`, &llm.Request{Stream: true}, plain},
		{`request.images == 1`, &llm.Request{Messages: []llm.Message{{Role: "user", Parts: []llm.ContentPart{{Type: "image_url", ImageURL: "x"}}}}}, plain},
		{`request.max_tokens == 5`, &llm.Request{MaxTokens: &five}, plain},
		{`request.max_tokens == 0`, plain, &llm.Request{MaxTokens: &five}},
		{`request.model == "auto"`, plain, &llm.Request{Model: "other"}},
		{`request.user == "u1"`, &llm.Request{User: "u1"}, plain},
		{`request.metadata["team"] == "ml"`, &llm.Request{Metadata: map[string]string{"team": "ml"}}, &llm.Request{Metadata: map[string]string{"team": "web"}}},
		{`request.metadata.?team.orValue("") == "ml"`, &llm.Request{Metadata: map[string]string{"team": "ml"}}, plain},
		{`contains_any(request.last_user, ["refund", "chargeback"])`, ask("I want a Refund."), ask("refunds are not this")},
		{`request.tokens > 1.5`, ask("hello world"), plain},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			n := newNode(t, "rules: [{when: '"+strings.ReplaceAll(tt.when, "'", "''")+"', route: gpt-4}]\ndefault: small")
			if got := serve(t, n, newCall(tt.yes)); got != "gpt-4" {
				t.Errorf("matching request routed to %s", got)
			}
			c := newCall(tt.no)
			if got := serve(t, n, c); got != "small" {
				t.Errorf("other request routed to %s", got)
			}
			if d := c.Trace.Snapshot().Decisions[0]; d.Data != nil {
				t.Errorf("unexpected evaluation errors: %v", d.Data)
			}
		})
	}
}

func TestCallerHeadersAndTime(t *testing.T) {
	pro := func(c *policy.Call) {
		c.Caller = policy.Caller{Key: "k1", Tier: "pro", Session: "s1", Metadata: map[string]string{"team": "ml"}}
	}
	urgent := func(c *policy.Call) { c.Header = http.Header{"X-Priority": {"high"}, "X-Tags": {"a", "b"}} }
	at := func(ts string) callOpt {
		return func(c *policy.Call) {
			tm, err := time.Parse(time.RFC3339, ts)
			if err != nil {
				panic(err)
			}
			c.Now = tm
		}
	}
	tests := []struct {
		name, config string
		yes, no      []callOpt // nil: a plain call at noon UTC on a Saturday
	}{
		{"tier", `caller.tier == "pro"`, []callOpt{pro}, nil},
		{"key", `caller.key == "k1"`, []callOpt{pro}, nil},
		{"session", `caller.session != ""`, []callOpt{pro}, nil},
		{"caller metadata", `caller.metadata.?team.orValue("") == "ml"`, []callOpt{pro}, nil},
		{"caller metadata in", `"team" in caller.metadata`, []callOpt{pro}, nil},
		{"header", `headers["x-priority"] == "high"`, []callOpt{urgent}, nil},
		{"header has", `"x-priority" in headers`, []callOpt{urgent}, nil},
		{"multi-valued header", `headers["x-tags"] == "a, b"`, []callOpt{urgent}, nil},
		{"hour utc", `hour == 12`, nil, []callOpt{at("2026-03-14T13:00:00Z")}},
		{"night hours", `hour >= 22 || hour < 6`, []callOpt{at("2026-03-14T23:10:00Z")}, []callOpt{at("2026-03-14T21:59:59Z")}},
		{"weekend", `weekday == 0 || weekday == 6`, nil, []callOpt{at("2026-03-16T12:00:00Z")}},
		{"now", `now > timestamp("2026-01-01T00:00:00Z")`, nil, []callOpt{at("2025-12-31T23:00:00Z")}},
		{"now accessor", `now.getDayOfWeek() == 6`, nil, []callOpt{at("2026-03-15T12:00:00Z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, "rules: [{when: '"+strings.ReplaceAll(tt.config, "'", "''")+"', route: gpt-4}]\ndefault: small")
			if got := serve(t, n, newCall(ask("x"), tt.yes...)); got != "gpt-4" {
				t.Errorf("matching call routed to %s", got)
			}
			if got := serve(t, n, newCall(ask("x"), tt.no...)); got != "small" {
				t.Errorf("other call routed to %s", got)
			}
		})
	}
}

func TestTimezone(t *testing.T) {
	n := newNode(t, `
timezone: America/New_York
rules: [{when: 'hour == 8 && weekday == 6', route: gpt-4}]
default: small
`)
	// 12:30 UTC on Saturday 14 March 2026 is 08:30 in New York (EDT).
	if got := serve(t, n, newCall(ask("x"))); got != "gpt-4" {
		t.Errorf("routed to %s, want gpt-4", got)
	}
}

func TestFirstMatchWins(t *testing.T) {
	n := newNode(t, `
rules:
  - {name: a, when: 'request.chars > 100', route: claude}
  - {name: b, when: 'request.chars > 0', route: gpt-4}
  - {name: c, when: 'true', route: mixtral}
default: small
`)
	for text, want := range map[string]string{strings.Repeat("x", 101): "claude", "x": "gpt-4", "": "mixtral"} {
		c := newCall(ask(text))
		if got := serve(t, n, c); got != want {
			t.Errorf("%d chars: routed to %s, want %s", len(text), got, want)
		}
	}
}

func TestNestedRules(t *testing.T) {
	n := newNode(t, `
rules:
  - when: 'caller.tier == "pro"'
    route:
      rules:
        rules: [{name: inner, when: 'request.has_code', route: gpt-4}]
        default: claude
default: small
`)
	c := newCall(ask("```\nx\n```"), func(c *policy.Call) { c.Caller.Tier = "pro" })
	if got := serve(t, n, c); got != "gpt-4" {
		t.Errorf("routed to %s, want gpt-4", got)
	}
	ds := c.Trace.Snapshot().Decisions
	if len(ds) != 2 || ds[0].Node != nodePath || ds[0].Decision != "rules[0] -> rules" ||
		ds[1].Node != nodePath+".rules[0].route.rules" || ds[1].Decision != "inner -> gpt-4" {
		t.Errorf("decisions = %+v", ds)
	}
}

func TestEvaluationErrors(t *testing.T) {
	n := newNode(t, `
cost_limit: 5
rules:
  - {name: missing-key, when: 'request.metadata["tier"] == "gold"', route: claude}
  - {name: too-costly, when: '[1, 2, 3, 4, 5, 6, 7, 8].all(x, x > 0)', route: mixtral}
  - {name: fine, when: 'request.chars > 1000', route: gpt-4}
default: small
`)
	c := newCall(ask("hello"))
	if got := serve(t, n, c); got != "small" {
		t.Fatalf("routed to %s, want the default", got)
	}
	d := c.Trace.Snapshot().Decisions[0]
	errs, _ := d.Data["errors"].([]string)
	if d.Decision != "default -> small" || len(errs) != 2 ||
		!strings.HasPrefix(errs[0], "missing-key: no such key: tier") ||
		!strings.HasPrefix(errs[1], "too-costly: ") || !strings.Contains(errs[1], "cost limit exceeded") {
		t.Errorf("decision = %+v", d)
	}
	// A later rule still matches after an earlier one failed.
	c = newCall(ask(strings.Repeat("x", 1001)))
	if got := serve(t, n, c); got != "gpt-4" {
		t.Errorf("routed to %s, want gpt-4", got)
	}
	if d := c.Trace.Snapshot().Decisions[0]; d.Decision != "fine -> gpt-4" || len(d.Data["errors"].([]string)) != 2 {
		t.Errorf("decision = %+v", d)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, config string
		path, msg    string // msg is a substring of the message
	}{
		{"unknown field", "rules: [{when: 'true', route: gpt-4}]\ndefault: small\nfoo: 1", nodePath + ".foo", "unknown field"},
		{"unknown rule field", "rules: [{whem: 'true', route: gpt-4}]\ndefault: small", nodePath + ".rules[0].whem", "unknown field"},
		{"rule not a mapping", "rules: [gpt-4]\ndefault: small", nodePath + ".rules[0]", "expected a mapping"},
		{"wrong type", "rules: [{when: 'true', route: gpt-4, name: [1]}]\ndefault: small", nodePath + ".rules[0].name", "expected a string"},
		{"no rules", "default: small", nodePath + ".rules", "at least one rule"},
		{"no default", "rules: [{when: 'true', route: gpt-4}]", nodePath + ".default", "required"},
		{"no when", "rules: [{route: gpt-4}]\ndefault: small", nodePath + ".rules[0].when", "required"},
		{"no route", "rules: [{when: 'true'}]\ndefault: small", nodePath + ".rules[0].route", "required"},
		{"unknown model in route", "rules: [{when: 'true', route: gpt-4}, {when: 'true', route: gpt-5}]\ndefault: small", nodePath + ".rules[1].route", `unknown model "gpt-5"`},
		{"unknown model in nested route", "rules: [{when: 'true', route: {first: [gpt-4, nope]}}]\ndefault: small", nodePath + ".rules[0].route.first[1]", `unknown model "nope"`},
		{"unknown default model", "rules: [{when: 'true', route: gpt-4}]\ndefault: nope", nodePath + ".default", `unknown model "nope"`},
		{"duplicate name", "rules: [{name: a, when: 'true', route: gpt-4}, {name: a, when: 'true', route: gpt-4}]\ndefault: small", nodePath + ".rules[1].name", `duplicate rule name "a" (also at routes.auto.rules.rules[0])`},
		{"bad timezone", "timezone: Mars/Olympus\nrules: [{when: 'true', route: gpt-4}]\ndefault: small", nodePath + ".timezone", "unknown time zone"},
		{"zero cost limit", "cost_limit: 0\nrules: [{when: 'true', route: gpt-4}]\ndefault: small", nodePath + ".cost_limit", "must be positive"},

		{"undeclared variable", "rules: [{when: 'true', route: gpt-4}, {when: 'tier == \"free\"', route: gpt-4}]\ndefault: small", nodePath + ".rules[1].when", "undeclared reference to 'tier'"},
		{"unknown feature", "rules: [{when: 'request.tokenz > 1', route: gpt-4}]\ndefault: small", nodePath + ".rules[0].when", "undefined field 'tokenz'"},
		{"syntax error", "rules: [{when: 'request.tokens >', route: gpt-4}]\ndefault: small", nodePath + ".rules[0].when", "Syntax error"},
		{"type error", "rules: [{when: 'request.language > 3', route: gpt-4}]\ndefault: small", nodePath + ".rules[0].when", "no matching overload"},
		{"bad regex", "rules: [{when: 'matches(request.last_user, \"(unclosed\")', route: gpt-4}]\ndefault: small", nodePath + ".rules[0].when", "missing closing )"},
		{"contains_any arguments", "rules: [{when: 'contains_any(request.tokens, [\"a\"])', route: gpt-4}]\ndefault: small", nodePath + ".rules[0].when", "no matching overload"},
		{"not boolean", "rules: [{when: 'request.tokens + 1', route: gpt-4}]\ndefault: small", nodePath + ".rules[0].when", "must be a boolean expression, but its type is int"},
		{"string is not boolean", "rules: [{when: 'request.language', route: gpt-4}]\ndefault: small", nodePath + ".rules[0].when", "its type is string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(models, nodePath, yamlBlock(t, tt.config))
			var ce *conf.Error
			if !errors.As(err, &ce) {
				t.Fatalf("New error = %v (%T), want a *conf.Error", err, err)
			}
			if ce.Path != tt.path || !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("error = %q\nwant path %q and a message containing %q", err, tt.path, tt.msg)
			}
		})
	}
}

// TestCompileErrorMessage pins the shape of a CEL error in a config error:
// position, CEL's message and the caret under the fault.
func TestCompileErrorMessage(t *testing.T) {
	_, err := New(models, nodePath, yamlBlock(t, "rules: [{when: 'true', route: gpt-4}, {when: 'request.tokenz > 1500', route: gpt-4}]\ndefault: small"))
	want := "routes.auto.rules.rules[1].when: 1:8: undefined field 'tokenz'\n | request.tokenz > 1500\n | .......^"
	if err == nil || err.Error() != want {
		t.Errorf("error =\n%v\nwant\n%s", err, want)
	}
}

func TestContainsWord(t *testing.T) {
	tests := []struct {
		text, word string
		want       bool
	}{
		{"i want a refund", "refund", true},
		{"refund", "refund", true},
		{"refunds", "refund", false},
		{"prerefund", "refund", false},
		{"a refund_x", "refund", false},
		{"(refund)", "refund", true},
		{"no refunds. refund!", "refund", true},
		{"think step by step please", "step by step", true},
		{"step by steps", "step by step", false},
		{"c++ question", "c++", true},
		{"abc++", "c++", false},
		{"我想要退款谢谢", "退款", true},
		{"用python写", "python", true},
		{"ошибка в коде", "ошибка", true},
		{"ошибками", "ошибка", false},
		{"anything", "", false},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := containsWord(tt.text, tt.word); got != tt.want {
			t.Errorf("containsWord(%q, %q) = %v, want %v", tt.text, tt.word, got, tt.want)
		}
	}
}

func TestContainsAnyCaseInsensitive(t *testing.T) {
	n := newNode(t, `
rules: [{when: 'contains_any(request.last_user, ["Urgent", "ASAP", "Срочно"])', route: gpt-4}]
default: small
`)
	for text, want := range map[string]string{"this is URGENT": "gpt-4", "asap!": "gpt-4", "СРОЧНО": "gpt-4", "urgently": "small", "": "small"} {
		if got := serve(t, n, newCall(ask(text))); got != want {
			t.Errorf("%q routed to %s, want %s", text, got, want)
		}
	}
}

func TestConcurrentServe(t *testing.T) {
	n := newNode(t, `
rules:
  - {when: 'request.tokens > 3 && caller.tier == "pro"', route: gpt-4}
  - {when: 'headers.?x.orValue("") == "y" || hour > 25', route: claude}
default: small
`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				tier := []string{"pro", "free"}[i%2]
				c := newCall(ask("one two three four five"), func(c *policy.Call) { c.Caller.Tier = tier })
				out, err := n.Serve(context.Background(), c)
				want := map[string]string{"pro": "gpt-4", "free": "small"}[tier]
				if err != nil || out.Model != want {
					t.Errorf("tier %s: %v, %v", tier, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRegistered(t *testing.T) {
	if _, ok := policy.Lookup("rules"); !ok {
		t.Fatal(`kind "rules" is not registered`)
	}
}

// BenchmarkServe evaluates a typical three-rule config; the request matches
// none, so every rule runs, and the default leaf answers.
func BenchmarkServe(b *testing.B) {
	n := newNode(b, `
rules:
  - name: long-or-code
    when: 'request.tokens > 1500 || request.has_code'
    route: gpt-4
  - when: 'caller.tier == "free" && !request.json'
    route: mixtral
  - when: 'matches(request.last_user, "(?i)prove|derive") || contains_any(request.last_user, ["theorem", "lemma"])'
    route: claude
default: small
`)
	req := ask("What is the capital of France, and how large is its population today?")
	b.ReportAllocs()
	for b.Loop() {
		c := newCall(req, func(c *policy.Call) { c.Caller.Tier = "pro" })
		if _, err := n.Serve(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

func (testBuilder) Model(string) (*catalog.Model, bool) { return nil, false }

func (testBuilder) Path(p string) string { return p }
