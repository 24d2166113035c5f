package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sextant-router/sextant/internal/llm"
)

// A function's parameters go to the API's "parameters" field, whose Schema
// is a subset of the OpenAPI 3.0 schema object, not JSON Schema: it rejects
// keys it does not know, such as additionalProperties, $schema, $defs and
// $ref, and knows nullable instead of "null" types. functionParameters
// rewrites a client's JSON Schema into that subset:
//
//   - local $ref (to $defs, definitions or any JSON pointer in the schema)
//     are inlined; a recursive or remote $ref is unsupported;
//   - allOf members are merged into one schema; oneOf becomes anyOf;
//   - a "null" type, a {"type": "null"} anyOf member or a null enum value
//     becomes nullable: true; a type list of several other types becomes
//     anyOf;
//   - const becomes a one-value enum; enum is kept only when every value
//     is a string (the API's enum is a list of strings);
//   - type names are upper-cased (STRING, OBJECT, ...); an untyped schema
//     with properties is an OBJECT, with items an ARRAY;
//   - format is kept only where the API knows it: enum and date-time on
//     strings, int32 and int64 on integers, float and double on numbers;
//   - required names that are not properties are dropped;
//   - every other key is dropped, among them additionalProperties,
//     $schema, $id, $comment, examples, not, if/then/else,
//     patternProperties, exclusiveMinimum/Maximum, multipleOf,
//     uniqueItems, readOnly and strict.
//
// An object with no properties at the top is no parameters at all: the
// API rejects an OBJECT with empty properties.

// schemaKeys are the Schema fields kept as they are, once converted.
var schemaKeys = map[string]bool{
	"title": true, "description": true, "pattern": true, "nullable": true, "default": true, "example": true,
	"minimum": true, "maximum": true, "minItems": true, "maxItems": true, "minLength": true, "maxLength": true,
	"minProperties": true, "maxProperties": true, "propertyOrdering": true,
}

// formats are the formats the API accepts, by type.
var formats = map[string][]string{
	"STRING":  {"enum", "date-time"},
	"INTEGER": {"int32", "int64"},
	"NUMBER":  {"float", "double"},
}

// Bounds on conversion: references can make a small schema expand into
// a huge one (each level referring twice to the next doubles it).
const (
	maxSchemaDepth = 64
	maxSchemaNodes = 10000
)

// schemaErr is a schema the adapter could not convert. A caller error is
// not JSON or not a schema; otherwise the schema is valid but uses what
// the API cannot express.
type schemaErr struct {
	msg    string
	caller bool
}

func (e *schemaErr) Error() string { return e.msg }

// schemaError reports a conversion failure at param.
func (p *Provider) schemaError(param string, err error) *llm.Error {
	if se, ok := err.(*schemaErr); ok && !se.caller {
		return p.unsupported(param, "%s", se.msg)
	}
	return p.callerError(param, "%v", err)
}

// functionParameters converts a tool's parameters; nil means none.
func functionParameters(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var root any
	if err := d.Decode(&root); err != nil {
		return nil, &schemaErr{msg: fmt.Sprintf("parameters are not JSON: %v", err), caller: true}
	}
	if _, ok := root.(map[string]any); !ok {
		if root == true {
			return nil, nil
		}
		return nil, &schemaErr{msg: "parameters must be a JSON Schema object", caller: true}
	}
	c := &converter{root: root}
	out, err := c.convert(root, 0)
	if err != nil {
		return nil, err
	}
	if props, _ := out["properties"].(map[string]any); out["type"] == "OBJECT" && len(props) == 0 {
		return nil, nil
	}
	return json.Marshal(out)
}

type converter struct {
	root  any
	stack []string // $refs being inlined
	nodes int      // schemas converted so far
}

// convert rewrites one schema. A boolean schema or {} is returned as an
// empty map (any value).
func (c *converter) convert(v any, depth int) (map[string]any, error) {
	if depth > maxSchemaDepth {
		return nil, &schemaErr{msg: "the parameter schema is nested too deeply for this model"}
	}
	if c.nodes++; c.nodes > maxSchemaNodes {
		return nil, &schemaErr{msg: "the parameter schema expands to too many schemas for this model"}
	}
	s, ok := v.(map[string]any)
	if !ok {
		return map[string]any{}, nil
	}
	if ref, ok := s["$ref"].(string); ok {
		return c.inline(ref, s, depth)
	}
	if all, ok := s["allOf"].([]any); ok {
		rest := without(s, "allOf")
		out, err := c.convert(rest, depth+1)
		if err != nil {
			return nil, err
		}
		for _, m := range all {
			cm, err := c.convert(m, depth+1)
			if err != nil {
				return nil, err
			}
			merge(out, cm)
		}
		// required may name properties that only the members declare.
		if req, ok := s["required"].([]any); ok {
			props, _ := out["properties"].(map[string]any)
			dr, _ := out["required"].([]any)
			for _, r := range req {
				if name, ok := r.(string); ok && props[name] != nil && !slices.Contains(dr, r) {
					dr = append(dr, r)
				}
			}
			if len(dr) > 0 {
				out["required"] = dr
			}
		}
		return out, nil
	}

	out := map[string]any{}
	for k, val := range s {
		if schemaKeys[k] {
			out[k] = val
		}
	}
	if out["default"] == nil {
		delete(out, "default")
	}
	nullable := out["nullable"] == true

	// type
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			if xs, ok := x.(string); ok {
				types = append(types, xs)
			}
		}
	}
	var nonNull []string
	for _, t := range types {
		if t == "null" {
			nullable = true
		} else {
			nonNull = append(nonNull, strings.ToUpper(t))
		}
	}
	switch len(nonNull) {
	case 0:
	case 1:
		out["type"] = nonNull[0]
	default:
		alts := make([]any, len(nonNull))
		for i, t := range nonNull {
			alts[i] = map[string]any{"type": t}
		}
		out["anyOf"] = alts
	}

	// enum and const
	var enum []any
	if e, ok := s["enum"].([]any); ok {
		enum = e
	} else if cv, ok := s["const"]; ok {
		enum = []any{cv}
	}
	if enum != nil {
		var strs []any
		allStrings := true
		for _, x := range enum {
			switch xv := x.(type) {
			case nil:
				nullable = true
			case string:
				strs = append(strs, xv)
			default:
				allStrings = false
			}
		}
		if allStrings && len(strs) > 0 {
			out["enum"] = strs
			if out["type"] == nil && out["anyOf"] == nil {
				out["type"] = "STRING"
			}
		}
	}

	// properties and required
	if props, ok := s["properties"].(map[string]any); ok {
		cp := make(map[string]any, len(props))
		for name, ps := range props {
			conv, err := c.convert(ps, depth+1)
			if err != nil {
				return nil, err
			}
			cp[name] = conv
		}
		out["properties"] = cp
		if out["type"] == nil && out["anyOf"] == nil {
			out["type"] = "OBJECT"
		}
	}
	if req, ok := s["required"].([]any); ok {
		props, _ := out["properties"].(map[string]any)
		var keep []any
		for _, r := range req {
			if name, ok := r.(string); ok {
				if _, known := props[name]; known {
					keep = append(keep, name)
				}
			}
		}
		if len(keep) > 0 {
			out["required"] = keep
		}
	}

	// items (a tuple form has no equivalent and is dropped)
	if items, ok := s["items"].(map[string]any); ok {
		conv, err := c.convert(items, depth+1)
		if err != nil {
			return nil, err
		}
		out["items"] = conv
		if out["type"] == nil && out["anyOf"] == nil {
			out["type"] = "ARRAY"
		}
	}

	// anyOf and oneOf
	alts, _ := s["anyOf"].([]any)
	if alts == nil {
		alts, _ = s["oneOf"].([]any)
	}
	if alts != nil {
		var keep []any
		for _, a := range alts {
			if am, ok := a.(map[string]any); ok && am["type"] == "null" && len(am) == 1 {
				nullable = true
				continue
			}
			conv, err := c.convert(a, depth+1)
			if err != nil {
				return nil, err
			}
			keep = append(keep, conv)
		}
		switch len(keep) {
		case 0:
		case 1:
			// A single alternative (Optional[X] in many generators) is X.
			merge(out, keep[0].(map[string]any))
		default:
			out["anyOf"] = keep
		}
	}

	if f, ok := s["format"].(string); ok {
		if t, _ := out["type"].(string); slices.Contains(formats[t], f) {
			out["format"] = f
		}
	}
	if nullable {
		out["nullable"] = true
	}
	return out, nil
}

// inline converts the schema ref points to, with the referring schema's
// other keys (a description, say) taking precedence.
func (c *converter) inline(ref string, s map[string]any, depth int) (map[string]any, error) {
	if slices.Contains(c.stack, ref) {
		return nil, &schemaErr{msg: fmt.Sprintf("recursive schema reference %q is not supported by this model", ref)}
	}
	target, err := c.resolve(ref)
	if err != nil {
		return nil, err
	}
	c.stack = append(c.stack, ref)
	defer func() { c.stack = c.stack[:len(c.stack)-1] }()
	conv, err := c.convert(target, depth+1)
	if err != nil {
		return nil, err
	}
	if rest := without(s, "$ref"); len(rest) > 0 {
		over, err := c.convert(rest, depth+1)
		if err != nil {
			return nil, err
		}
		for k, v := range over {
			conv[k] = v
		}
	}
	return conv, nil
}

// resolve follows a local JSON pointer reference ("#/$defs/Name").
func (c *converter) resolve(ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, &schemaErr{msg: fmt.Sprintf("schema reference %q is not local; this model takes only local references", ref)}
	}
	cur := c.root
	if ptr == "" {
		return cur, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, &schemaErr{msg: fmt.Sprintf("schema reference %q is not a JSON pointer", ref), caller: true}
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch node := cur.(type) {
		case map[string]any:
			next, ok := node[tok]
			if !ok {
				return nil, &schemaErr{msg: fmt.Sprintf("schema reference %q points at nothing", ref), caller: true}
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(node) {
				return nil, &schemaErr{msg: fmt.Sprintf("schema reference %q points at nothing", ref), caller: true}
			}
			cur = node[i]
		default:
			return nil, &schemaErr{msg: fmt.Sprintf("schema reference %q points at nothing", ref), caller: true}
		}
	}
	return cur, nil
}

// merge folds src into dst: properties and required are unioned, other
// keys are set where dst lacks them.
func merge(dst, src map[string]any) {
	for k, v := range src {
		switch k {
		case "properties":
			dp, _ := dst[k].(map[string]any)
			if dp == nil {
				dp = map[string]any{}
				dst[k] = dp
			}
			for name, ps := range v.(map[string]any) {
				if _, ok := dp[name]; !ok {
					dp[name] = ps
				}
			}
		case "required":
			dr, _ := dst[k].([]any)
			for _, r := range v.([]any) {
				if !slices.Contains(dr, r) {
					dr = append(dr, r)
				}
			}
			dst[k] = dr
		case "nullable":
			if v == true {
				dst[k] = true
			}
		default:
			if _, ok := dst[k]; !ok {
				dst[k] = v
			}
		}
	}
}

func without(s map[string]any, key string) map[string]any {
	out := make(map[string]any, len(s))
	for k, v := range s {
		if k != key {
			out[k] = v
		}
	}
	return out
}
