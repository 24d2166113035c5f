package upstream

import (
	"maps"
	"slices"
	"strings"

	"github.com/sextant-router/sextant/internal/conf"
)

// CheckHeaders validates an options "headers" block at path, in name
// order, so that the first error is stable: each name must be an RFC 9110
// token and each value free of line breaks; Content-Type and
// Content-Length are the adapter's own. reserved, when not nil, returns
// the complaint for a further name the adapter reserves, or "".
func CheckHeaders(path string, headers map[string]conf.Secret, reserved func(name string) string) error {
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		hp := conf.Join(path, "headers."+name)
		if !ValidHeaderName(name) {
			return conf.Errorf(hp, "invalid header name")
		}
		if strings.EqualFold(name, "Content-Type") || strings.EqualFold(name, "Content-Length") {
			return conf.Errorf(hp, "the adapter sets this header itself")
		}
		if reserved != nil {
			if msg := reserved(name); msg != "" {
				return conf.Errorf(hp, "%s", msg)
			}
		}
		if !ValidHeaderValue(headers[name].Reveal()) {
			return conf.Errorf(hp, "header value must not contain a line break")
		}
	}
	return nil
}

// ValidHeaderName reports whether s is an RFC 9110 token.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c >= 0x7f || c <= ' ' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether s can be sent as a header value: no
// line break and no NUL.
func ValidHeaderValue(s string) bool { return !strings.ContainsAny(s, "\r\n\x00") }

// SiblingPath returns the config path of field next to the options block:
// SiblingPath("models[2].options", "base_url") is "models[2].base_url".
func SiblingPath(optionsPath, field string) string {
	if i := strings.LastIndexByte(optionsPath, '.'); i >= 0 {
		return optionsPath[:i+1] + field
	}
	return field
}
