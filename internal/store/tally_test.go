package store

import (
	"bytes"
	"errors"
	"testing"
)

func TestSQLiteTally(t *testing.T) {
	s, path := openTestSQLite(t)
	ctx := t.Context()
	steps := []struct {
		name    string
		save    []TallyBlob
		wantErr error
		// want maps kind/key to the blob expected after the step; nil
		// means not found.
		want map[[2]string][]byte
	}{
		{
			name: "nothing saved",
			want: map[[2]string][]byte{{TallyVector, "a"}: nil},
		},
		{
			name: "save two kinds under one key",
			save: []TallyBlob{{TallyVector, "a", []byte{1, 2}}, {TallyValue, "a", []byte("ramp")}},
			want: map[[2]string][]byte{{TallyVector, "a"}: {1, 2}, {TallyValue, "a"}: []byte("ramp")},
		},
		{
			name: "replace and keep the others",
			save: []TallyBlob{{TallyVector, "a", []byte{3}}, {TallyVector, "b", nil}},
			want: map[[2]string][]byte{{TallyVector, "a"}: {3}, {TallyValue, "a"}: []byte("ramp"), {TallyVector, "b"}: {}},
		},
		{
			name:    "an invalid blob saves nothing",
			save:    []TallyBlob{{TallyVector, "a", []byte{9}}, {"", "c", []byte{1}}},
			wantErr: ErrInvalid,
			want:    map[[2]string][]byte{{TallyVector, "a"}: {3}, {"", "c"}: nil},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.SaveTally(ctx, st.save); !errors.Is(err, st.wantErr) {
				t.Fatalf("SaveTally = %v, want %v", err, st.wantErr)
			}
			for k, want := range st.want {
				got, err := s.LoadTally(ctx, k[0], k[1])
				if want == nil {
					if !errors.Is(err, ErrNotFound) {
						t.Errorf("LoadTally(%q, %q) = %v, %v; want ErrNotFound", k[0], k[1], got, err)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, want) || got == nil {
					t.Errorf("LoadTally(%q, %q) = %v, %v; want %v", k[0], k[1], got, err, want)
				}
			}
		})
	}

	// Another connection to the same file (a restart) reads them back.
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.LoadTally(ctx, TallyValue, "a"); err != nil || string(got) != "ramp" {
		t.Errorf("after reopen: %q, %v", got, err)
	}
}

func TestLogTally(t *testing.T) {
	ctx := t.Context()
	sq, err := OpenSQLite(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	l := NewLog(sq, LogOptions{})
	if err := l.SaveTally(ctx, []TallyBlob{{TallyVector, "k", []byte{7}}}); err != nil {
		t.Fatalf("SaveTally: %v", err)
	}
	if got, err := l.LoadTally(ctx, TallyVector, "k"); err != nil || !bytes.Equal(got, []byte{7}) {
		t.Fatalf("LoadTally = %v, %v", got, err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LoadTally(ctx, TallyVector, "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}

	// A Store without the ability says so.
	fl := NewLog(newFakeStore(), LogOptions{})
	defer fl.Close(ctx)
	if err := fl.SaveTally(ctx, nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("fake store SaveTally = %v, want ErrUnsupported", err)
	}
}
