package store

import (
	"context"
	"errors"
	"fmt"
)

// Kinds of TallyBlob.
const (
	TallyVector = "vector"
	TallyValue  = "value"
)

// TallyBlob is one named piece of the state of package tally: the
// encoded total of a vector or a small value. Kind and Key together name
// it; Value is opaque here.
type TallyBlob struct {
	Kind  string
	Key   string
	Value []byte
}

// TallyStore keeps the state of package tally durably, beside the
// decisions. It is an optional ability of a Store (SQLite has it), checked
// by type assertion. Implementations are safe for concurrent use and
// return when ctx is canceled.
type TallyStore interface {
	// LoadTally returns the blob saved under kind and key, or an error
	// wrapping ErrNotFound when none is.
	LoadTally(ctx context.Context, kind, key string) ([]byte, error)
	// SaveTally stores blobs atomically, all or none, each replacing the
	// blob saved under the same kind and key. A blob with an empty kind or
	// key fails the call with ErrInvalid.
	SaveTally(ctx context.Context, blobs []TallyBlob) error
}

func validTallyBlob(b *TallyBlob) error {
	if b.Kind == "" || b.Key == "" {
		return invalidf("tally blob %q %q: empty kind or key", b.Kind, b.Key)
	}
	return nil
}

// LoadTally implements TallyStore with the Log's Store. It fails with
// errors.ErrUnsupported when that Store keeps no tally state and with
// ErrClosed after Close.
func (l *Log) LoadTally(ctx context.Context, kind, key string) ([]byte, error) {
	ts, err := l.tallyStore()
	if err != nil {
		return nil, err
	}
	return ts.LoadTally(ctx, kind, key)
}

// SaveTally implements TallyStore with the Log's Store, like LoadTally.
// It does not go through the decision queue: it writes at once.
func (l *Log) SaveTally(ctx context.Context, blobs []TallyBlob) error {
	ts, err := l.tallyStore()
	if err != nil {
		return err
	}
	return ts.SaveTally(ctx, blobs)
}

func (l *Log) tallyStore() (TallyStore, error) {
	if l.storeClosed.Load() {
		return nil, ErrClosed
	}
	ts, ok := l.store.(TallyStore)
	if !ok {
		return nil, fmt.Errorf("store: %T keeps no tally state: %w", l.store, errors.ErrUnsupported)
	}
	return ts, nil
}

var _ TallyStore = (*Log)(nil)
