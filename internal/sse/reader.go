// Package sse reads and writes Server-Sent Events as the WHATWG HTML
// standard defines them ("Interpreting an event stream"), with two
// differences made for a gateway rather than a browser: a stream that ends
// in the middle of an event is reported as io.ErrUnexpectedEOF instead of
// being silently dropped, and lines and events are bounded in size.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
)

// DefaultMaxSize is the default bound, in bytes, on one line and on the
// data of one event.
const DefaultMaxSize = 4 << 20

// ErrTooLong is returned when a line or the data of one event exceeds the
// reader's size bound. The stream cannot be resumed after it.
var ErrTooLong = errors.New("sse: line or event exceeds the size limit")

// Event is one dispatched event.
type Event struct {
	// Event is the event type from the "event" field; "" means the
	// standard's default type, "message".
	Event string
	// Data is the event's data lines joined with "\n".
	Data string
	// ID is the stream's last event ID when the event was dispatched. As the
	// standard says, it persists across events until an "id" field changes
	// it; "" when none was set.
	ID string
	// Retry is the stream's reconnection time when the event was
	// dispatched, as last set by a "retry" field; 0 when none was set. Like
	// ID it persists across events.
	Retry time.Duration
}

// Reader parses an event stream. It is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	max     int
	line    []byte // line assembled across buffer refills
	skipLF  bool   // the previous line ended in CR; a following LF belongs to it
	started bool   // the first line (which may carry a BOM) has been read

	// The event being assembled since the last blank line.
	eventType string
	data      []byte
	hasData   bool

	// Stream state that outlives events.
	lastID string
	retry  time.Duration

	err error // sticky
}

// NewReader returns a Reader of r bounded by DefaultMaxSize.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, DefaultMaxSize) }

// NewReaderSize returns a Reader of r that fails with ErrTooLong when one
// line, or the data of one event, is longer than maxSize bytes. A maxSize
// of zero or less means DefaultMaxSize.
func NewReaderSize(r io.Reader, maxSize int) *Reader {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	// A small buffer keeps thousands of idle streams cheap; longer lines
	// are assembled across refills.
	return &Reader{br: bufio.NewReaderSize(r, min(4<<10, maxSize+2)), max: maxSize}
}

// Next returns the next event. It returns io.EOF when the stream ends at an
// event boundary, io.ErrUnexpectedEOF when it ends inside an event (data or
// an event type read but no blank line yet, or a line cut short), ErrTooLong
// when a bound is exceeded, and the underlying reader's error otherwise.
// After an error every later call returns the same error.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && (r.hasData || r.eventType != "") {
				err = io.ErrUnexpectedEOF
			}
			r.err = err
			return Event{}, err
		}
		if len(line) == 0 {
			if !r.hasData {
				// Nothing to dispatch: the standard resets and carries on.
				r.eventType = ""
				continue
			}
			ev := Event{Event: r.eventType, Data: string(r.data), ID: r.lastID, Retry: r.retry}
			r.eventType, r.data, r.hasData = "", r.data[:0], false
			return ev, nil
		}
		if err := r.field(line); err != nil {
			r.err = err
			return Event{}, err
		}
	}
}

// field processes one non-empty line.
func (r *Reader) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		value = bytes.TrimPrefix(value, []byte{' '})
	}
	switch string(name) {
	case "event":
		r.eventType = string(value)
	case "data":
		n := len(r.data) + len(value)
		if r.hasData {
			n++
		}
		if n > r.max {
			return ErrTooLong
		}
		if r.hasData {
			r.data = append(r.data, '\n')
		}
		r.data = append(r.data, value...)
		r.hasData = true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.lastID = string(value)
		}
	case "retry":
		if ms, ok := parseRetry(value); ok {
			r.retry = ms
		}
	}
	return nil
}

// parseRetry reads a reconnection time: ASCII digits only, in
// milliseconds. Values too large for a time.Duration are ignored.
func parseRetry(v []byte) (time.Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	ms, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || ms > int64(time.Duration(1<<63-1)/time.Millisecond) {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// readLine returns the next line without its terminator (CRLF, LF or CR).
// The slice is valid until the next call. It returns io.EOF at the end of
// the stream after a terminated line and io.ErrUnexpectedEOF when the
// stream ends inside a line.
func (r *Reader) readLine() ([]byte, error) {
	if r.skipLF {
		b, err := r.br.Peek(1)
		if len(b) == 1 && b[0] == '\n' {
			r.br.Discard(1)
		} else if err != nil && err != io.EOF {
			return nil, err
		}
		r.skipLF = false
	}
	r.line = r.line[:0]
	for {
		if r.br.Buffered() == 0 {
			if _, err := r.br.Peek(1); err != nil {
				if err == io.EOF && len(r.line) > 0 && (r.started || !bytes.Equal(r.line, bom)) {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		chunk, _ := r.br.Peek(r.br.Buffered())
		i := bytes.IndexAny(chunk, "\r\n")
		n := i
		if i < 0 {
			n = len(chunk)
		}
		if len(r.line)+n > r.max {
			return nil, ErrTooLong
		}
		var line []byte
		if i >= 0 && len(r.line) == 0 {
			line = chunk[:i] // common case: the whole line is buffered
		} else {
			r.line = append(r.line, chunk[:n]...)
			line = r.line
		}
		if i < 0 {
			r.br.Discard(n)
			continue
		}
		r.skipLF = chunk[i] == '\r'
		// Discard only moves the read offset; the buffer under line is not
		// refilled before the next call.
		r.br.Discard(i + 1)
		if !r.started {
			r.started = true
			line = bytes.TrimPrefix(line, bom)
		}
		return line, nil
	}
}

// bom is the UTF-8 byte order mark, skipped once at the start of a stream.
var bom = []byte("\xEF\xBB\xBF")

// Buffered reports whether a whole event is already buffered, so that the
// next Next returns without reading from the underlying reader: the bytes
// read ahead hold a blank line, which ends an event. It may report false
// when an event is in fact complete; it never reports true when one is not.
func (r *Reader) Buffered() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	buf, err := r.br.Peek(n)
	if err != nil {
		return false
	}
	return bytes.Contains(buf, []byte("\n\n")) || bytes.Contains(buf, []byte("\r\n\r\n")) || bytes.Contains(buf, []byte("\r\r"))
}
