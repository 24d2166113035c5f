// Package features computes request features that rules and classifiers
// read: sizes, keywords, code, math, tools, wanted formats.
package features

import "github.com/sextant-router/sextant/internal/llm"

// Set is the features of one request. TODO(features): filled in by Extract.
type Set struct {
	Chars    int
	Messages int
}

// Extract computes the features of req.
func Extract(req *llm.Request) *Set {
	s := &Set{Messages: len(req.Messages)}
	for _, m := range req.Messages {
		s.Chars += len(m.Content)
	}
	return s
}
