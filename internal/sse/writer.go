package sse

import (
	"errors"
	"io"
	"strings"
)

// ErrBadEventName is returned by WriteEvent for an event name that holds a
// line break, which would end the field early and corrupt the stream.
var ErrBadEventName = errors.New("sse: event name contains a line break")

// lineBreaks normalizes the standard's three line terminators to "\n".
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// WriteEvent writes one event: an "event" field when event is not empty,
// one "data" field per line of data (CRLF, LF and CR all split lines, so a
// Reader returns data with "\n" line breaks), and the blank line that
// dispatches it. The event is written with a single Write call so that
// concurrent writers to a locked writer never interleave events; the caller
// flushes.
func WriteEvent(w io.Writer, event, data string) error {
	if strings.ContainsAny(event, "\r\n") {
		return ErrBadEventName
	}
	var b strings.Builder
	b.Grow(len(event) + len(data) + 16)
	if event != "" {
		b.WriteString("event: ")
		b.WriteString(event)
		b.WriteByte('\n')
	}
	for line := range strings.SplitSeq(lineBreaks.Replace(data), "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteComment writes text as comment lines, which readers ignore; an empty
// text writes a bare ":" line. Proxies see the bytes, so a comment keeps an
// idle stream alive without dispatching an event.
func WriteComment(w io.Writer, text string) error {
	var b strings.Builder
	for line := range strings.SplitSeq(lineBreaks.Replace(text), "\n") {
		b.WriteByte(':')
		if line != "" {
			b.WriteByte(' ')
			b.WriteString(line)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
