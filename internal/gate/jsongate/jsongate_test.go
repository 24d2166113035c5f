package jsongate

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
	"github.com/sextant-router/sextant/internal/llm"
)

const personSchema = `{"name":"person","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false}}`

func build(t testing.TB, cfg string) gate.Gate {
	t.Helper()
	g, err := gate.Build(gatetest.Builder{}, "g", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("Build(%s): %v", cfg, err)
	}
	return g
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct{ cfg, want string }{
		{`{"json":{"schema":{"type":12}}}`, "g.json.schema:"},
		{`{"json":{"schema":"x"}}`, "g.json.schema:"},
		{`{"json":{"strict":true}}`, "g.json.strict: unknown field"},
	} {
		if _, err := gate.Build(gatetest.Builder{}, "g", json.RawMessage(tt.cfg)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		format  *llm.ResponseFormat
		text    string
		partial bool
		score   float64
		pass    bool
		skipped bool
		reason  string
	}{
		{"not asked", `"json"`, nil, "hello", false, 0, false, true, "did not ask"},
		{"always", `{"json":{"always":true}}`, nil, "hello", false, 0, false, false, "not valid JSON"},
		{"json_object ok", `"json"`, &llm.ResponseFormat{Type: "json_object"}, `{"a":1}`, false, 1, true, false, "valid JSON"},
		{"json_object fenced", `"json"`, &llm.ResponseFormat{Type: "json_object"}, "```json\n{\"a\":1}\n```", false, 1, true, false, "valid JSON"},
		{"fence off", `{"json":{"fence":false}}`, &llm.ResponseFormat{Type: "json_object"}, "```json\n{\"a\":1}\n```", false, 0, false, false, "not valid JSON"},
		{"json_object array", `"json"`, &llm.ResponseFormat{Type: "json_object"}, `[1,2]`, false, 0, false, false, "not an object"},
		{"truncated", `"json"`, &llm.ResponseFormat{Type: "json_object"}, `{"a":`, false, 0, false, false, "not valid JSON"},
		{"trailing text", `"json"`, &llm.ResponseFormat{Type: "json_object"}, `{"a":1} and more`, false, 0, false, false, "not valid JSON"},
		{"schema ok", `"json"`, &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(personSchema)}, `{"name":"Ada","age":36}`, false, 1, true, false, "request schema"},
		{"schema violated", `"json"`, &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(personSchema)}, `{"name":"Ada","age":-1}`, false, 0.5, false, false, "does not match the request schema"},
		{"schema extra field", `"json"`, &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(personSchema)}, `{"name":"Ada","age":3,"x":1}`, false, 0.5, false, false, "additional"},
		{"schema violated lax", `{"json":{"threshold":0.5}}`, &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(personSchema)}, `{"name":"Ada"}`, false, 0.5, true, false, "missing"},
		{"request schema off", `{"json":{"request_schema":false}}`, &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(personSchema)}, `{"name":"Ada"}`, false, 1, true, false, "valid JSON"},
		{"configured schema", `{"json":{"schema":{"type":"array","items":{"type":"number"}}}}`, nil, `[1,"x"]`, false, 0.5, false, false, "configured schema"},
		{"broken request schema", `"json"`, &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(`{"name":"x","schema":{"type":"nonsense"}}`)}, `{}`, false, 0, false, true, "does not compile"},
		{"external ref refused", `"json"`, &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(`{"name":"x","schema":{"$ref":"file:///etc/passwd"}}`)}, `{}`, false, 0, false, true, "does not compile"},
		{"partial", `"json"`, &llm.ResponseFormat{Type: "json_object"}, `{"a"`, true, 0, false, true, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.cfg)
			c := gatetest.Call("give me json", "", nil)
			c.Request.ResponseFormat = tt.format
			a := gatetest.Answer(c, tt.text)
			a.Partial = tt.partial
			v, err := g.Check(context.Background(), c, a)
			if err != nil {
				t.Fatal(err)
			}
			if v.Skipped != tt.skipped || v.Pass != tt.pass || v.Score != tt.score || !strings.Contains(v.Reason, tt.reason) {
				t.Fatalf("verdict %+v; want score %v pass %v skipped %v reason ~%q", v, tt.score, tt.pass, tt.skipped, tt.reason)
			}
		})
	}
}

func TestSchemaCache(t *testing.T) {
	sc := newSchemaCache(2)
	a, err := sc.get(json.RawMessage(personSchema))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := sc.get(json.RawMessage(personSchema)); b != a {
		t.Fatal("schema compiled twice")
	}
	sc.get(json.RawMessage(`{"type":"string"}`))
	sc.get(json.RawMessage(`{"type":"number"}`))
	if len(sc.m) > 2 {
		t.Fatalf("cache holds %d entries, max 2", len(sc.m))
	}
}

func BenchmarkJSONSchema(b *testing.B) {
	g := build(b, `"json"`)
	c := gatetest.Call("q", "", nil)
	schema := `{"name":"catalog","schema":{"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},"title":{"type":"string"},"price":{"type":"number","minimum":0},"tags":{"type":"array","items":{"type":"string"}}},"required":["id","title","price"]}}},"required":["items"]}}`
	c.Request.ResponseFormat = &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(schema)}
	var items []string
	for i := range 11 {
		items = append(items, `{"id":`+strconv.Itoa(i)+`,"title":"A fairly long product title number `+strconv.Itoa(i)+`","price":19.99,"tags":["kitchen","steel","gift"]}`)
	}
	a := gatetest.Answer(c, "```json\n{\"items\":["+strings.Join(items, ",")+"]}\n```")
	ctx := context.Background()
	if v, _ := g.Check(ctx, c, a); !v.Pass {
		b.Fatalf("bench answer fails: %+v", v)
	}
	b.ReportAllocs()
	for b.Loop() {
		g.Check(ctx, c, a)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string // fmt of the value, or "error"
	}{
		{`{"a":[1,2.5,"x",true,null],"b":{}}`, "map[a:[1 2.5 x true <nil>] b:map[]]"},
		{` 12 `, "12"},
		{`{"a":1,"a":2}`, "map[a:2]"},
		{`{"a":1} x`, "error"},
		{`{"a":`, "error"},
		{``, "error"},
		{`[1,]`, "error"},
		{"\"\xff\"", "error"},
		{strings.Repeat("[", 300) + strings.Repeat("]", 300), "error"},
	}
	for _, tt := range tests {
		v, err := parse(tt.in)
		got := fmt.Sprint(v)
		if err != nil {
			got = "error"
		}
		if got != tt.want {
			t.Errorf("parse(%.40q) = %s (%v), want %s", tt.in, got, err, tt.want)
		}
	}
	if v, _ := parse(`1e400`); v != json.Number("1e400") {
		t.Errorf("numbers must keep their text, got %v", v)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}]}`, `[`, `"x"`, `1.5e3`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parse(s)
		if err != nil {
			return
		}
		// Whatever parses, encoding/json accepts too.
		if !json.Valid([]byte(s)) {
			t.Fatalf("parsed %q to %v, which encoding/json rejects", s, v)
		}
	})
}
