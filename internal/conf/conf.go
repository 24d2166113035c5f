// Package conf holds the small types and the strict decoder that every
// configurable part of Sextant shares: each kind (provider, policy node,
// gate) decodes its own block with Decode, which rejects unknown fields and
// wrong types and names the exact path of the fault.
package conf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Error is a configuration error at a path such as
// "routes.auto.fallback[1]".
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errorf returns an *Error at path.
func Errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Join returns the path of field under base: Join("a.b", "c") is "a.b.c",
// Join("a", "[2]") is "a[2]".
func Join(base, field string) string {
	switch {
	case base == "":
		return field
	case field == "":
		return base
	case strings.HasPrefix(field, "["):
		return base + field
	}
	return base + "." + field
}

// Index returns the path of element i under base: "base[i]".
func Index(base string, i int) string { return fmt.Sprintf("%s[%d]", base, i) }

// Decode decodes the JSON form of a config block into v, rejecting unknown
// fields, duplicate keys, wrong types and trailing data. Errors are *Error
// values whose path starts at path and continues into the block, e.g.
// "models[0].price.input". A nil or "null" raw leaves v unchanged.
func Decode(path string, raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	if err := jsonv2.Unmarshal(raw, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return decodeError(path, err)
	}
	return nil
}

func decodeError(path string, err error) error {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		at := pointerPath(path, se.JSONPointer)
		var ce *Error
		switch {
		case errors.As(se.Err, &ce):
			return &Error{Path: Join(at, ce.Path), Msg: ce.Msg}
		case errors.Is(se.Err, jsonv2.ErrUnknownName):
			return Errorf(at, "unknown field")
		case se.GoType != nil && se.JSONKind != 0:
			return Errorf(at, "expected %s, got %s", friendlyType(se.GoType), kindName(se.JSONKind))
		case se.Err != nil:
			return Errorf(at, "%v", se.Err)
		}
		return Errorf(at, "invalid value")
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return Errorf(pointerPath(path, syn.JSONPointer), "%v", syn.Err)
	}
	var ce *Error
	if errors.As(err, &ce) {
		return &Error{Path: Join(path, ce.Path), Msg: ce.Msg}
	}
	return Errorf(path, "%v", err)
}

// pointerPath renders a JSON pointer under base in config notation: numeric
// tokens become indexes.
func pointerPath(base string, p jsontext.Pointer) string {
	out := base
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil {
			out += "[" + tok + "]"
		} else {
			out = Join(out, tok)
		}
	}
	return out
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "mapping"
	case '[':
		return "list"
	}
	return k.String()
}

func friendlyType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeOf(Duration(0)):
		return "a duration"
	case t == reflect.TypeOf(json.RawMessage(nil)):
		return "a value"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// Duration is a time.Duration that reads and writes "500ms", "2s", "1m30s".
// A bare number is read as seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "500ms" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err := json.Unmarshal(b, &secs); err != nil {
			return &Error{Msg: fmt.Sprintf("expected a duration such as \"500ms\", got %s", b)}
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &Error{Msg: fmt.Sprintf("invalid duration %q (use a form such as \"500ms\" or \"2s\")", s)}
	}
	if v < 0 {
		return &Error{Msg: fmt.Sprintf("duration %q must not be negative", s)}
	}
	*d = Duration(v)
	return nil
}

// Secret is a string that never prints: String, LogValue and MarshalJSON
// give "<secret>". Use Reveal to read it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// LogValue keeps secrets out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes "<secret>".
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// GoString keeps secrets out of %#v.
func (s Secret) GoString() string { return s.String() }
