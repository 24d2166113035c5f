package tally

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sextant-router/sextant/internal/store"
)

// Store keeps the hub's totals and values durably. *store.Log and
// *store.SQLite implement it (the tally table of the decision store).
// LoadTally returns an error wrapping store.ErrNotFound when nothing is
// saved under kind and key; SaveTally saves all of blobs or none.
type Store interface {
	LoadTally(ctx context.Context, kind, key string) ([]byte, error)
	SaveTally(ctx context.Context, blobs []store.TallyBlob) error
}

// loadTimeout bounds the store and Redis reads made by Open, UseStore
// and a first Get.
const loadTimeout = 2 * time.Second

// UseStore makes s the hub's durable store (nil: memory only). Vectors
// already open load their persisted total now (unless a Redis total has
// already replaced it); later ones load it when first opened. A load that
// fails is logged and retried by Sync; until it succeeds the vector shows
// only this process's additions and is not saved. Calling it again with
// the same store changes nothing.
func (h *Hub) UseStore(s Store) {
	h.mu.Lock()
	if h.store == s {
		// Loading again would count what this process saved twice.
		h.mu.Unlock()
		return
	}
	h.store = s
	vs := make([]*Vector, 0, len(h.vectors))
	for _, v := range h.vectors {
		vs = append(vs, v)
	}
	for _, val := range h.values {
		val.loaded = s == nil || val.set
	}
	h.mu.Unlock()
	for _, v := range vs {
		v.mu.Lock()
		v.loaded = s == nil || v.epoch >= 0
		v.mu.Unlock()
	}
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	for _, v := range vs {
		if err := v.load(ctx, s); err != nil {
			h.logger().Warn("tally: loading a vector failed; retrying at the next sync", "key", v.key, "err", err)
		}
	}
}

// load merges the persisted total into an unloaded vector: base becomes
// the stored total, the additions made here since stay on top.
func (v *Vector) load(ctx context.Context, s Store) error {
	v.mu.Lock()
	done := v.loaded
	v.mu.Unlock()
	if done {
		return nil
	}
	b, err := s.LoadTally(ctx, store.TallyVector, v.key)
	notFound := errors.Is(err, store.ErrNotFound)
	if err != nil && !notFound {
		return err
	}
	var stored []float64
	if !notFound {
		if stored, err = decodeVector(b); err != nil {
			return fmt.Errorf("tally: vector %q: %w", v.key, err)
		}
		if len(stored) != len(v.total) {
			// The shape changed under the same key: the old total cannot
			// be used, and is overwritten at the next save.
			v.hub.logger().Warn("tally: persisted vector has another length; starting from zero",
				"key", v.key, "persisted", len(stored), "want", len(v.total))
			stored = nil
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.loaded { // a Reset or a Redis pull got there first
		return nil
	}
	if stored != nil {
		copy(v.base, stored)
		v.recomputeLocked()
	}
	v.loaded = true
	return nil
}

// fetchValue reads a newly tracked value from the store and Redis; a
// failure leaves it for Sync.
func (h *Hub) fetchValue(key string, val *value) {
	h.mu.Lock()
	st := h.store
	h.mu.Unlock()
	rb := h.redis.Load()
	if st == nil && rb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	if st != nil {
		h.loadValue(ctx, st, key, val)
	}
	if rb != nil {
		data, found, err := rb.getValue(ctx, key)
		if err != nil {
			return // Sync pulls it
		}
		h.mu.Lock()
		if found && val.gen == val.pushGen {
			val.data, val.set, val.loaded = data, true, true
		}
		h.mu.Unlock()
	}
}

// loadValue reads an unloaded value from the store.
func (h *Hub) loadValue(ctx context.Context, st Store, key string, val *value) error {
	h.mu.Lock()
	done := val.loaded
	h.mu.Unlock()
	if done {
		return nil
	}
	b, err := st.LoadTally(ctx, store.TallyValue, key)
	notFound := errors.Is(err, store.ErrNotFound)
	if err != nil && !notFound {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if val.loaded {
		return nil
	}
	if !notFound {
		val.data, val.set = b, true
	}
	val.loaded = true
	return nil
}

// retryLoads loads what Open, UseStore or Get failed to.
func (h *Hub) retryLoads(ctx context.Context, st Store, vs []*Vector, keys []string, vals []*value) error {
	var errs []error
	for _, v := range vs {
		if err := v.load(ctx, st); err != nil {
			errs = append(errs, fmt.Errorf("load vector %q: %w", v.key, err))
		}
	}
	for i, val := range vals {
		if err := h.loadValue(ctx, st, keys[i], val); err != nil {
			errs = append(errs, fmt.Errorf("load value %q: %w", keys[i], err))
		}
	}
	return errors.Join(errs...)
}

// save writes the vectors and values changed since the last save, in one
// transaction; on failure they stay dirty.
func (h *Hub) save(ctx context.Context, st Store, vs []*Vector, keys []string, vals []*value) error {
	var blobs []store.TallyBlob
	var saved []*Vector
	for _, v := range vs {
		v.mu.Lock()
		if v.dirty && v.loaded {
			blobs = append(blobs, store.TallyBlob{Kind: store.TallyVector, Key: v.key, Value: encodeVector(v.total)})
			saved = append(saved, v)
			v.dirty = false
		}
		v.mu.Unlock()
	}
	var savedVals []*value
	var gens []uint64
	h.mu.Lock()
	for i, val := range vals {
		if val.dirty && val.loaded && val.set {
			blobs = append(blobs, store.TallyBlob{Kind: store.TallyValue, Key: keys[i], Value: append([]byte{}, val.data...)})
			savedVals = append(savedVals, val)
			gens = append(gens, val.gen)
			val.dirty = false
		}
	}
	h.mu.Unlock()
	if len(blobs) == 0 {
		return nil
	}
	err := st.SaveTally(ctx, blobs)
	if err == nil {
		return nil
	}
	for _, v := range saved {
		v.mu.Lock()
		v.dirty = true
		v.mu.Unlock()
	}
	h.mu.Lock()
	for _, val := range savedVals {
		val.dirty = true
	}
	h.mu.Unlock()
	return fmt.Errorf("save: %w", err)
}

// Encoding of a saved vector: the version byte 1, the length as a
// little-endian uint32, then each element as a little-endian IEEE 754
// float64.
const vectorEncoding = 1

func encodeVector(xs []float64) []byte {
	b := make([]byte, 5, 5+8*len(xs))
	b[0] = vectorEncoding
	binary.LittleEndian.PutUint32(b[1:], uint32(len(xs)))
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func decodeVector(b []byte) ([]float64, error) {
	if len(b) < 5 || b[0] != vectorEncoding {
		return nil, fmt.Errorf("persisted total: unknown encoding")
	}
	n := binary.LittleEndian.Uint32(b[1:])
	if uint64(len(b)-5) != 8*uint64(n) {
		return nil, fmt.Errorf("persisted total: %d bytes for %d elements", len(b)-5, n)
	}
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[5+8*i:]))
	}
	return xs, nil
}
