// Package jsongate provides the "json" gate: the answer must be valid
// JSON, and must match the JSON Schema of the request's response_format
// (or one configured). See the package doc of gate for its config.
package jsongate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/answer"
	"github.com/sextant-router/sextant/internal/policy"
)

// Kind is the gate's kind name.
const Kind = "json"

func init() { gate.Register(Kind, New) }

// DefaultThreshold passes only valid JSON that matches its schema.
const DefaultThreshold = 1.0

// Scores.
const (
	ScoreInvalid = 0.0 // not JSON (or not an object where one was asked for)
	ScoreSchema  = 0.5 // JSON that does not match the schema
	ScoreValid   = 1.0
)

// Gate checks that an answer is JSON matching a schema.
type Gate struct {
	gate.Base
	always        bool
	requestSchema bool
	fence         bool
	schema        *jsonschema.Schema // configured; nil when none
	cache         *schemaCache
}

type config struct {
	gate.Common
	Always        bool            `json:"always"`
	RequestSchema *bool           `json:"request_schema"`
	Fence         *bool           `json:"fence"`
	Schema        json.RawMessage `json:"schema"`
}

// New builds a json gate; see the package doc of gate for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	base, err := cfg.Common.Base(path, Kind, DefaultThreshold)
	if err != nil {
		return nil, err
	}
	g := &Gate{Base: base, always: cfg.Always, requestSchema: true, fence: true, cache: newSchemaCache(256)}
	if cfg.RequestSchema != nil {
		g.requestSchema = *cfg.RequestSchema
	}
	if cfg.Fence != nil {
		g.fence = *cfg.Fence
	}
	if len(bytes.TrimSpace(cfg.Schema)) > 0 && string(bytes.TrimSpace(cfg.Schema)) != "null" {
		s, err := Compile(cfg.Schema)
		if err != nil {
			return nil, conf.Errorf(conf.Join(path, "schema"), "%v", err)
		}
		g.schema = s
	}
	return g, nil
}

// Check judges a's first choice. It skips when the request did not ask
// for JSON (response_format json_object or json_schema), no schema was
// configured and always is false, and on a partial answer.
func (g *Gate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	req := a.Request
	if req == nil && c != nil {
		req = c.Request
	}
	var format string
	var reqSchema json.RawMessage
	if req != nil && req.ResponseFormat != nil {
		format = req.ResponseFormat.Type
		reqSchema = req.ResponseFormat.JSONSchema
	}
	asked := format == "json_object" || format == "json_schema"
	if !asked && !g.always && g.schema == nil {
		return g.Skip(c, "the request did not ask for JSON"), nil
	}
	if a.Partial {
		return g.Skip(c, "prefix: JSON needs the whole answer"), nil
	}
	text := a.Text()
	if g.fence {
		text = answer.StripFence(text)
	}
	inst, err := parse(text)
	if err != nil {
		v := g.Verdict(c, ScoreInvalid, "not valid JSON: "+clip(err.Error()))
		v.Metrics = map[string]float64{"json_valid": 0}
		return v, nil
	}
	if _, isObj := inst.(map[string]any); format == "json_object" && !isObj {
		v := g.Verdict(c, ScoreInvalid, "JSON but not an object, which json_object asks for")
		v.Metrics = map[string]float64{"json_valid": 0}
		return v, nil
	}
	schema := g.schema
	source := "configured schema"
	if g.requestSchema && format == "json_schema" && len(reqSchema) > 0 {
		s, err := g.cache.get(reqSchema)
		if err != nil {
			// The client's schema is broken: the answer cannot be held
			// to it, which is not the answer's fault.
			v := g.Skip(c, "the request's schema does not compile: "+clip(err.Error()))
			v.Metrics = map[string]float64{"json_valid": 1}
			return v, nil
		}
		schema, source = s, "request schema"
	}
	if schema == nil {
		v := g.Verdict(c, ScoreValid, "valid JSON")
		v.Metrics = map[string]float64{"json_valid": 1}
		return v, nil
	}
	if err := schema.Validate(inst); err != nil {
		v := g.Verdict(c, ScoreSchema, "does not match the "+source+": "+clip(err.Error()))
		v.Metrics = map[string]float64{"json_valid": 1, "schema_valid": 0}
		return v, nil
	}
	v := g.Verdict(c, ScoreValid, "valid JSON matching the "+source)
	v.Metrics = map[string]float64{"json_valid": 1, "schema_valid": 1}
	return v, nil
}

// Compile compiles a JSON Schema (draft 2020-12 unless it names another
// with $schema). It also takes the json_schema object of a response_format
// ({name, schema, strict}) and compiles its schema member. References to
// anything outside the document are refused, so a client's schema can
// never make Sextant read a file or fetch a URL.
func Compile(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if m, ok := doc.(map[string]any); ok {
		if inner, ok := m["schema"]; ok {
			if _, named := m["name"]; named {
				doc = inner
			}
		}
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	const loc = "sextant:///schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	return c.Compile(loc)
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, errors.New("schemas may not refer to other documents: " + url)
}

// schemaCache keeps compiled request schemas by their text, so a client
// that sends the same schema with every request compiles it once. When it
// holds max entries it starts over.
type schemaCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cached
}

type cached struct {
	s   *jsonschema.Schema
	err error
}

func newSchemaCache(max int) *schemaCache {
	return &schemaCache{max: max, m: map[string]cached{}}
}

func (sc *schemaCache) get(raw json.RawMessage) (*jsonschema.Schema, error) {
	sc.mu.Lock()
	e, ok := sc.m[string(raw)]
	sc.mu.Unlock()
	if ok {
		return e.s, e.err
	}
	s, err := Compile(raw)
	sc.mu.Lock()
	if len(sc.m) >= sc.max {
		clear(sc.m)
	}
	sc.m[string(raw)] = cached{s, err}
	sc.mu.Unlock()
	return s, err
}

func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

var _ gate.Gate = (*Gate)(nil)
