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
	"strings"
	"time"
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
// fields, wrong types and trailing data. Errors are *Error values whose path
// starts at path. A nil or "null" raw leaves v unchanged.
func Decode(path string, raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(path, err)
	}
	if dec.More() {
		return Errorf(path, "unexpected trailing data")
	}
	return nil
}

func decodeError(path string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := te.Type.String()
		if te.Type.Kind().String() != want && !strings.Contains(want, ".") {
			want = te.Type.Kind().String()
		}
		return Errorf(Join(path, te.Field), "expected %s, got %s", friendlyType(te.Type.Kind().String(), want), te.Value)
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return Errorf(Join(path, strings.Trim(f, `"`)), "unknown field")
	}
	msg = strings.TrimPrefix(msg, "json: ")
	return Errorf(path, "%s", msg)
}

func friendlyType(kind, full string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "a list"
	case "map", "struct":
		return "a mapping"
	}
	if strings.HasSuffix(full, "Duration") {
		return "a duration"
	}
	return full
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
