package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestWriteEvent(t *testing.T) {
	tests := []struct {
		name, event, data string
		want              string
		err               error
	}{
		{name: "data only", data: "hello", want: "data: hello\n\n"},
		{name: "with event", event: "error", data: `{"a":1}`, want: "event: error\ndata: {\"a\":1}\n\n"},
		{name: "empty data", want: "data: \n\n"},
		{name: "multi-line LF", data: "a\nb", want: "data: a\ndata: b\n\n"},
		{name: "multi-line CRLF and CR", data: "a\r\nb\rc", want: "data: a\ndata: b\ndata: c\n\n"},
		{name: "trailing newline", data: "a\n", want: "data: a\ndata: \n\n"},
		{name: "leading space kept", data: " x", want: "data:  x\n\n"},
		{name: "event with LF", event: "a\nb", data: "x", err: ErrBadEventName},
		{name: "event with CR", event: "a\rb", data: "x", err: ErrBadEventName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			err := WriteEvent(&b, tt.event, tt.data)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if b.String() != tt.want {
				t.Errorf("wrote %q, want %q", b.String(), tt.want)
			}
			if tt.err != nil {
				return
			}
			ev, err := NewReader(strings.NewReader(b.String())).Next()
			if err != nil {
				t.Fatal(err)
			}
			if ev.Event != tt.event || ev.Data != lineBreaks.Replace(tt.data) {
				t.Errorf("read back %+v", ev)
			}
		})
	}
}

func TestWriteComment(t *testing.T) {
	tests := []struct{ text, want string }{
		{"", ":\n"},
		{"keepalive", ": keepalive\n"},
		{"a\nb", ": a\n: b\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := WriteComment(&b, tt.text); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("WriteComment(%q) wrote %q, want %q", tt.text, b.String(), tt.want)
		}
		// A comment between events dispatches nothing.
		got, err := readAll(NewReader(strings.NewReader(b.String() + "data: x\n\n" + b.String())))
		if len(got) != 1 || got[0].Data != "x" || err != io.EOF {
			t.Errorf("comment %q disturbed the stream: %+v, %v", tt.text, got, err)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteEventPassesWriteErrors(t *testing.T) {
	if err := WriteEvent(failWriter{}, "", "x"); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("err = %v, want io.ErrClosedPipe", err)
	}
}
