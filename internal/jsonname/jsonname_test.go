package jsonname

import (
	"reflect"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

func TestKind(t *testing.T) {
	tests := map[jsontext.Kind]string{'n': "null", 't': "a boolean", 'f': "a boolean", '"': "a string", '0': "a number", '{': "an object", '[': "an array", 0: "an invalid value"}
	for k, want := range tests {
		if got := Kind(k); got != want {
			t.Errorf("Kind(%q) = %q, want %q", k, got, want)
		}
	}
}

func TestType(t *testing.T) {
	var p **int
	tests := []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeOf(""), "a string"},
		{reflect.TypeOf(true), "a boolean"},
		{reflect.TypeOf(p), "an integer"},
		{reflect.TypeOf(1.5), "a number"},
		{reflect.TypeOf([]string{}), "an array"},
		{reflect.TypeOf(map[string]int{}), "an object"},
		{reflect.TypeOf(struct{}{}), "an object"},
		{reflect.TypeOf(func() {}), "a valid value"},
		{nil, "a valid value"},
	}
	for _, tt := range tests {
		if got := Type(tt.t); got != tt.want {
			t.Errorf("Type(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}
