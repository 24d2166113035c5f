// Package jsonname words the client API codecs' error messages: it names
// JSON kinds and the JSON types Go types decode from ("expected a string,
// got a number") and cuts echoed values and parameter paths short.
package jsonname

import (
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Kind names a JSON kind: "a string", "an object", "null" ...
func Kind(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "an invalid value"
}

// Type names the JSON type that values of the Go type t decode from.
func Type(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a valid value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}

// Client strings echoed in messages and parameter paths are cut short, so
// that an error never repeats a megabyte of the request back.
const (
	maxEcho = 64  // runes of a quoted value
	MaxPath = 256 // bytes of a parameter path; longer ones are cut and end in "..."
)

// Quote returns s as a Go-quoted string, cut to 64 runes.
func Quote(s string) string {
	n := 0
	for i := range s {
		if n == maxEcho {
			return strconv.Quote(s[:i]) + "..."
		}
		n++
	}
	return strconv.Quote(s)
}

// CutPath cuts a parameter path to 256 bytes on a rune boundary.
func CutPath(s string) string {
	if len(s) <= MaxPath {
		return s
	}
	cut := MaxPath
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
