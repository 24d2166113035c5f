package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReader checks that any input parses without panicking within its
// bounds, that parsed events survive a write and re-read unchanged, and that
// WriteEvent's output reads back as what was written.
func FuzzReader(f *testing.F) {
	seeds := []struct{ input, event, data string }{
		{"data: hello\n\n", "", "hello"},
		{"event: add\r\ndata: a\r\ndata: b\r\n\r\n", "add", "a\nb"},
		{"\xEF\xBB\xBFdata: x\r\rid: 1\nretry: 20\ndata:\n\n", "", ""},
		{": comment\ndata\n\ndata: cut", " leading", "trailing\n"},
		{"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n", "message", "x\r\ny\rz"},
		{"event: x\n", "e:v", "\x00"},
		{"id: a\x00b\ndata: 1\n\n", "", "\n\n"},
	}
	for _, s := range seeds {
		f.Add(s.input, s.event, s.data)
	}
	f.Fuzz(func(t *testing.T, input, event, data string) {
		const maxSize = 1 << 10
		r := NewReaderSize(strings.NewReader(input), maxSize)
		var events []Event
		var err error
		for range len(input) + 2 {
			var ev Event
			if ev, err = r.Next(); err != nil {
				break
			}
			if len(ev.Data) > maxSize {
				t.Fatalf("event data of %d bytes passed the %d-byte bound", len(ev.Data), maxSize)
			}
			events = append(events, ev)
		}
		if err == nil {
			t.Fatalf("%d events from %d bytes of input and no end", len(events), len(input))
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrTooLong) {
			t.Fatalf("unexpected error %v", err)
		}
		if _, again := r.Next(); again != err {
			t.Fatalf("error not sticky: %v then %v", err, again)
		}

		// Parsed events written back read back the same.
		var b strings.Builder
		for _, ev := range events {
			if err := WriteEvent(&b, ev.Event, ev.Data); err != nil {
				t.Fatalf("rewriting %+v: %v", ev, err)
			}
		}
		back, err := readAll(NewReader(strings.NewReader(b.String())))
		if err != io.EOF {
			t.Fatalf("re-reading rewritten events: %v", err)
		}
		if len(back) != len(events) {
			t.Fatalf("rewrote %d events, read back %d", len(events), len(back))
		}
		for i := range back {
			if back[i].Event != events[i].Event || back[i].Data != events[i].Data {
				t.Fatalf("event %d: rewrote %+v, read back %+v", i, events[i], back[i])
			}
		}

		// Writer → reader round trip.
		b.Reset()
		err = WriteEvent(&b, event, data)
		if strings.ContainsAny(event, "\r\n") {
			if !errors.Is(err, ErrBadEventName) {
				t.Fatalf("event name %q: err = %v, want ErrBadEventName", event, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(NewReader(strings.NewReader(b.String())))
		if err != io.EOF || len(got) != 1 {
			t.Fatalf("wrote %q, read %+v, %v", b.String(), got, err)
		}
		if got[0].Event != event || got[0].Data != lineBreaks.Replace(data) {
			t.Fatalf("wrote event %q data %q, read %+v", event, data, got[0])
		}
	})
}
