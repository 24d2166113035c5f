package sse

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// readAll returns the events of input and the error that ended them.
func readAll(r *Reader) ([]Event, error) {
	var out []Event
	for {
		ev, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []Event
		err   error
	}{
		{name: "empty stream", input: "", err: io.EOF},
		{name: "one event", input: "data: hello\n\n", want: []Event{{Data: "hello"}}},
		{name: "no space after colon", input: "data:hello\n\n", want: []Event{{Data: "hello"}}},
		{name: "only one leading space removed", input: "data:  two\n\n", want: []Event{{Data: " two"}}},
		{name: "trailing space kept", input: "data: x \n\n", want: []Event{{Data: "x "}}},
		{name: "multi-line data", input: "data: a\ndata: b\ndata:\ndata: c\n\n", want: []Event{{Data: "a\nb\n\nc"}}},
		{name: "empty data dispatches", input: "data\n\n", want: []Event{{Data: ""}}},
		{name: "event type", input: "event: add\ndata: 1\n\ndata: 2\n\n", want: []Event{{Event: "add", Data: "1"}, {Data: "2"}}},
		{name: "event without data is not dispatched", input: "event: ping\n\ndata: x\n\n", want: []Event{{Data: "x"}}},
		{name: "comments ignored", input: ": keepalive\ndata: a\n:another\ndata: b\n\n: tail\n", want: []Event{{Data: "a\nb"}}},
		{name: "unknown fields ignored", input: "foo: bar\ndata: x\nDATA: y\n\n", want: []Event{{Data: "x"}}},
		{name: "colon in value", input: "data: {\"a\":\"b:c\"}\n\n", want: []Event{{Data: `{"a":"b:c"}`}}},
		{name: "CRLF", input: "event: e\r\ndata: a\r\ndata: b\r\n\r\n", want: []Event{{Event: "e", Data: "a\nb"}}},
		{name: "CR", input: "data: a\rdata: b\r\rdata: c\r\r", want: []Event{{Data: "a\nb"}, {Data: "c"}}},
		{name: "mixed line endings", input: "data: a\r\ndata: b\rdata: c\n\r\n", want: []Event{{Data: "a\nb\nc"}}},
		{name: "BOM at start", input: "\xEF\xBB\xBFdata: x\n\n", want: []Event{{Data: "x"}}},
		{name: "BOM only at start", input: "data: x\n\n\xEF\xBB\xBFdata: y\n\n", want: []Event{{Data: "x"}}},
		{name: "BOM only", input: "\xEF\xBB\xBF", err: io.EOF},
		{name: "id persists", input: "id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", want: []Event{{ID: "7", Data: "a"}, {ID: "7", Data: "b"}, {Data: "c"}}},
		{name: "id with NUL ignored", input: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", want: []Event{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}}},
		{name: "retry", input: "retry: 1500\ndata: a\n\nretry: 1x\ndata: b\n\n", want: []Event{{Data: "a", Retry: 1500 * time.Millisecond}, {Data: "b", Retry: 1500 * time.Millisecond}}},
		{name: "retry overflow ignored", input: "retry: 99999999999999999999\ndata: a\n\n", want: []Event{{Data: "a"}}},
		{name: "retry alone not dispatched", input: "retry: 10\n\n", err: io.EOF},
		{name: "blank lines between events", input: "\n\n\ndata: a\n\n\n\ndata: b\n\n", want: []Event{{Data: "a"}, {Data: "b"}}},
		{name: "data without trailing blank line", input: "data: a\n\ndata: b\n", want: []Event{{Data: "a"}}, err: io.ErrUnexpectedEOF},
		{name: "line cut short", input: "data: a\n\ndata: b", want: []Event{{Data: "a"}}, err: io.ErrUnexpectedEOF},
		{name: "comment cut short", input: ": ping", err: io.ErrUnexpectedEOF},
		{name: "event type without blank line", input: "event: x\n", err: io.ErrUnexpectedEOF},
		{name: "trailing comment after boundary", input: "data: a\n\n: bye\n", want: []Event{{Data: "a"}}, err: io.EOF},
		{name: "CR at end of stream", input: "data: a\r\r", want: []Event{{Data: "a"}}, err: io.EOF},
		{name: "OpenAI done", input: "data: {\"id\":\"1\"}\n\ndata: [DONE]\n\n", want: []Event{{Data: `{"id":"1"}`}, {Data: "[DONE]"}}},
	}
	for _, tt := range tests {
		if tt.err == nil {
			tt.err = io.EOF
		}
		readers := map[string]func(string) io.Reader{
			"whole":    func(s string) io.Reader { return strings.NewReader(s) },
			"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		}
		for mode, mk := range readers {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				got, err := readAll(NewReader(mk(tt.input)))
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("events:\n got %+v\nwant %+v", got, tt.want)
				}
				if !errors.Is(err, tt.err) {
					t.Errorf("err = %v, want %v", err, tt.err)
				}
			})
		}
	}
}

func TestReaderErrorIsSticky(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n"))
	for range 3 {
		if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
	}
}

func TestReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom)))
	got, err := readAll(r)
	if len(got) != 1 || got[0].Data != "a" {
		t.Errorf("events = %+v, want one event \"a\"", got)
	}
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
}

func TestReaderSizeLimit(t *testing.T) {
	tests := []struct {
		name  string
		max   int
		input string
		want  []Event
		err   error
	}{
		{name: "line at limit", max: 8, input: "data: 12\n\n", want: []Event{{Data: "12"}}, err: io.EOF},
		{name: "line over limit", max: 8, input: "data: 123\n\n", err: ErrTooLong},
		{name: "long comment over limit", max: 8, input: ": 12345678\ndata: a\n\n", err: ErrTooLong},
		{name: "unterminated line over limit", max: 8, input: "data: 1234567890", err: ErrTooLong},
		{name: "event data at limit", max: 8, input: "data:12\ndata:34\ndata:56\n\n", want: []Event{{Data: "12\n34\n56"}}, err: io.EOF},
		{name: "event data over limit", max: 8, input: "data:12\ndata:34\ndata:567\n\n", err: ErrTooLong},
		{name: "empty data lines count", max: 8, input: strings.Repeat("data\n", 10) + "\n", err: ErrTooLong},
		{name: "limit is per event", max: 8, input: "data:12\ndata:34\ndata:56\n\ndata:12\ndata:34\ndata:56\n\n", want: []Event{{Data: "12\n34\n56"}, {Data: "12\n34\n56"}}, err: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(NewReaderSize(iotest.HalfReader(strings.NewReader(tt.input)), tt.max))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events:\n got %+v\nwant %+v", got, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

// A stream whose lines are longer than the bufio buffer must still parse:
// lines are assembled across refills.
func TestReaderLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	input := "data: " + long + "\r\ndata: " + long + "\r\n\r\ndata: short\n\n"
	got, err := readAll(NewReader(strings.NewReader(input)))
	want := []Event{{Data: long + "\n" + long}, {Data: "short"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %d events, want the two long lines and \"short\"", len(got))
	}
	if err != io.EOF {
		t.Errorf("err = %v, want io.EOF", err)
	}
}

// A CR that ends one network read and an LF that starts the next are one
// line terminator, not two (which would dispatch early).
func TestReaderCRLFSplitAcrossReads(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		for _, s := range []string{"data: a\r", "\ndata: b\r", "\n\r", "\n"} {
			pw.Write([]byte(s))
		}
		pw.Close()
	}()
	got, err := readAll(NewReader(pr))
	if want := []Event{{Data: "a\nb"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if err != io.EOF {
		t.Errorf("err = %v, want io.EOF", err)
	}
}

func BenchmarkReader(b *testing.B) {
	var sb strings.Builder
	for range 100 {
		sb.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hello"}}]}` + "\n\n")
	}
	input := sb.String()
	b.ReportAllocs()
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		r := NewReader(strings.NewReader(input))
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

func TestBuffered(t *testing.T) {
	tests := []struct {
		name  string
		input string
		reads int // events to read first
		want  bool
	}{
		{"nothing read yet", "data: a\n\ndata: b\n\n", 0, false},
		{"second event buffered", "data: a\n\ndata: b\n\n", 1, true},
		{"partial event buffered", "data: a\n\ndata: b\n", 1, false},
		{"crlf event buffered", "data: a\r\n\r\ndata: b\r\n\r\n", 1, true},
		{"all consumed", "data: a\n\n", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.input))
			for range tt.reads {
				if _, err := r.Next(); err != nil {
					t.Fatal(err)
				}
			}
			if got := r.Buffered(); got != tt.want {
				t.Errorf("Buffered() = %v, want %v", got, tt.want)
			}
			if tt.want {
				if _, err := r.Next(); err != nil {
					t.Errorf("a buffered event did not read: %v", err)
				}
			}
		})
	}
}
