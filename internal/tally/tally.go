package tally

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Hub holds the process's vectors and values and their backends.
type Hub struct {
	mu      sync.Mutex
	vectors map[string]*Vector
	values  map[string]*value
	store   Store // nil: in memory only

	// redis is the shared backend, nil when not sharing. Reset reads it
	// without mu.
	redis atomic.Pointer[redisBackend]
	log   atomic.Pointer[slog.Logger]
	// id names this hub (a replica) in Redis's push acknowledgements.
	id  string
	seq atomic.Uint64 // push sequence numbers

	// syncMu serializes Sync; the failure streaks below are under it.
	syncMu       sync.Mutex
	storeFailing bool
	redisFailing bool
}

// NewHub returns a hub that keeps everything in memory.
func NewHub() *Hub {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Hub{vectors: map[string]*Vector{}, values: map[string]*value{}, id: hex.EncodeToString(b[:])}
}

// Default is the process-wide hub.
var Default = NewHub()

// SetLogger sets where the hub reports backend failures (default
// slog.Default()).
func (h *Hub) SetLogger(l *slog.Logger) { h.log.Store(l) }

func (h *Hub) logger() *slog.Logger {
	if l := h.log.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// Vector is a named vector of sums.
type Vector struct {
	key string
	hub *Hub
	mu  sync.Mutex
	// total is the view: base + inflight + pending.
	total []float64
	// base is the last shared total known: loaded from the store, or
	// pulled from Redis.
	base []float64
	// pending holds the additions not yet pushed to Redis (without
	// Redis: every addition since base was loaded).
	pending []float64
	// inflight holds the additions of a push whose outcome is unknown
	// (nil when there is none); it is retried as it is, with the same
	// sequence number, so Redis applies it at most once.
	inflight      []float64
	inflightSeq   uint64
	inflightReset bool
	spare         []float64 // the next pending buffer, to swap without allocating
	// resetPending: Reset was called since the last push and Redis must
	// be reset too. resets counts Reset calls, to tell a pull that
	// raced with a Reset.
	resetPending bool
	resets       uint64
	// epoch is the Redis reset epoch base was pulled at; -1 when base
	// was never pulled from backend (the Redis it refers to).
	epoch   int64
	backend *redisBackend
	// reseed: Redis answered that the hash is absent although base was
	// pulled from it (Redis lost its data); the next push may recreate it
	// seeded with base, at this vector's epoch.
	reseed bool
	// loaded: base holds the store's total (or there is no store, or a
	// Redis total, or a Reset overrode it). An unloaded vector is neither
	// saved nor allowed to create its Redis hash, so a failed load can
	// never overwrite the persisted total.
	loaded bool
	// dirty: changed since the last save.
	dirty bool
}

// Open returns the vector named key with n elements, creating it (all
// zeros, or its persisted total) on first use.
func (h *Hub) Open(key string, n int) (*Vector, error) {
	if key == "" || n <= 0 {
		return nil, fmt.Errorf("tally: vector %q: need a key and a positive length, got %d", key, n)
	}
	h.mu.Lock()
	if v, ok := h.vectors[key]; ok {
		h.mu.Unlock()
		if len(v.total) != n {
			return nil, fmt.Errorf("tally: vector %q has %d elements, opened with %d", key, len(v.total), n)
		}
		return v, nil
	}
	v := &Vector{
		key: key, hub: h,
		total: make([]float64, n), base: make([]float64, n), pending: make([]float64, n), spare: make([]float64, n),
		epoch: -1, loaded: h.store == nil,
	}
	h.vectors[key] = v
	st := h.store
	h.mu.Unlock()
	if st != nil {
		ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
		defer cancel()
		// A failure is logged and retried by Sync.
		if err := v.load(ctx, st); err != nil {
			h.logger().Warn("tally: loading a vector failed; retrying at the next sync", "key", key, "err", err)
		}
	}
	return v, nil
}

// Key returns the vector's key.
func (v *Vector) Key() string { return v.key }

// Len returns the number of elements.
func (v *Vector) Len() int { return len(v.total) }

// Add adds delta element-wise; delta must have Len elements (extra ones
// are ignored, missing ones count as 0).
func (v *Vector) Add(delta []float64) {
	v.mu.Lock()
	n := min(len(delta), len(v.total))
	total, pending := v.total[:n], v.pending[:n]
	for i, d := range delta[:n] {
		total[i] += d
		pending[i] += d
	}
	v.dirty = true
	v.mu.Unlock()
}

// AddAt adds x to element i; an i out of range is ignored.
func (v *Vector) AddAt(i int, x float64) {
	v.mu.Lock()
	if i >= 0 && i < len(v.total) {
		v.total[i] += x
		v.pending[i] += x
		v.dirty = true
	}
	v.mu.Unlock()
}

// Values copies the current totals into dst (grown as needed) and
// returns it.
func (v *Vector) Values(dst []float64) []float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append(dst[:0], v.total...)
}

// Reset sets every element to zero (a restarted experiment): here at
// once, in the store at the next Sync and, when sharing through Redis, on
// every replica (see the package doc for what happens to additions racing
// with it).
func (v *Vector) Reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.total)
	clear(v.base)
	clear(v.pending)
	if v.inflight != nil {
		clear(v.inflight)
		v.spare, v.inflight = v.inflight, nil
	}
	v.resets++
	v.resetPending = v.hub.redis.Load() != nil
	v.loaded, v.dirty = true, true
}

// recomputeLocked sets total = base + inflight + pending.
func (v *Vector) recomputeLocked() {
	for i := range v.total {
		t := v.base[i] + v.pending[i]
		if v.inflight != nil {
			t += v.inflight[i]
		}
		v.total[i] = t
	}
}

// value is a small named value.
type value struct {
	data []byte
	set  bool
	// gen counts Puts, to tell a push or pull that raced with one.
	gen uint64
	// pushGen is the gen Redis last got (or was pulled at); a Put made
	// while sharing leaves gen > pushGen until Sync pushes it.
	pushGen uint64
	// loaded: the store's copy was read (or superseded by a Put or a
	// pull); dirty: changed since the last save.
	loaded, dirty bool
}

// maxValue is the largest value Put accepts.
const maxValue = 64 << 10

// Put sets the small value named key (at most 64 KiB).
func (h *Hub) Put(key string, value []byte) error {
	if len(value) > maxValue {
		return fmt.Errorf("tally: value %q is %d bytes, more than 64 KiB", key, len(value))
	}
	if key == "" {
		return fmt.Errorf("tally: value needs a key")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	val := h.valueLocked(key)
	val.data = append(val.data[:0:0], value...)
	val.set, val.loaded, val.dirty = true, true, true
	val.gen++
	if h.redis.Load() == nil {
		val.pushGen = val.gen // nothing to push
	}
	return nil
}

// Get returns the value named key and whether it is set. The first Get
// of a key this hub has not seen reads it from the store and from Redis
// when they are in use (later ones answer from memory, refreshed by Sync).
func (h *Hub) Get(key string) ([]byte, bool) {
	h.mu.Lock()
	val, ok := h.values[key]
	if !ok && key != "" {
		val = h.valueLocked(key)
		h.mu.Unlock()
		h.fetchValue(key, val)
		h.mu.Lock()
	}
	defer h.mu.Unlock()
	if val == nil || !val.set {
		return nil, false
	}
	return append([]byte(nil), val.data...), true
}

// valueLocked returns the tracked value of key, tracking it if new.
func (h *Hub) valueLocked(key string) *value {
	val, ok := h.values[key]
	if !ok {
		val = &value{loaded: h.store == nil}
		h.values[key] = val
	}
	return val
}
