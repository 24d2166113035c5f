package tally

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/redistest"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newHub() *Hub {
	h := NewHub()
	h.SetLogger(quiet)
	return h
}

func redisClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

func openSQLite(t testing.TB, path string) *store.SQLite {
	s, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustOpen(t testing.TB, h *Hub, key string, n int) *Vector {
	t.Helper()
	v, err := h.Open(key, n)
	if err != nil {
		t.Fatalf("Open(%q, %d): %v", key, n, err)
	}
	return v
}

func mustSync(t testing.TB, hs ...*Hub) {
	t.Helper()
	for _, h := range hs {
		if err := h.Sync(context.Background()); err != nil {
			t.Fatalf("Sync: %v", err)
		}
	}
}

func wantValues(t testing.TB, what string, v *Vector, want []float64) {
	t.Helper()
	if got := v.Values(nil); !slices.Equal(got, want) {
		t.Errorf("%s: %s = %v, want %v", what, v.Key(), got, want)
	}
}

func TestMemory(t *testing.T) {
	h := newHub()
	tests := []struct {
		name string
		do   func(v *Vector)
		want []float64
	}{
		{"fresh", func(*Vector) {}, []float64{0, 0, 0}},
		{"add", func(v *Vector) { v.Add([]float64{1, 2, 3}) }, []float64{1, 2, 3}},
		{"short delta", func(v *Vector) { v.Add([]float64{1}) }, []float64{2, 2, 3}},
		{"long delta", func(v *Vector) { v.Add([]float64{1, 1, 1, 100}) }, []float64{3, 3, 4}},
		{"add at", func(v *Vector) { v.AddAt(2, 0.5); v.AddAt(-1, 9); v.AddAt(3, 9) }, []float64{3, 3, 4.5}},
		{"reset", func(v *Vector) { v.Reset() }, []float64{0, 0, 0}},
		{"after reset", func(v *Vector) { v.AddAt(0, 1) }, []float64{1, 0, 0}},
	}
	v := mustOpen(t, h, "k", 3)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.do(v)
			wantValues(t, tt.name, v, tt.want)
		})
	}

	if again := mustOpen(t, h, "k", 3); again != v {
		t.Error("Open of the same key returned another vector")
	}
	for _, bad := range []struct {
		key string
		n   int
	}{{"k", 4}, {"", 1}, {"x", 0}} {
		if _, err := h.Open(bad.key, bad.n); err == nil {
			t.Errorf("Open(%q, %d) succeeded", bad.key, bad.n)
		}
	}

	if _, ok := h.Get("ramp"); ok {
		t.Error("Get of an unset value succeeded")
	}
	if err := h.Put("ramp", []byte("25")); err != nil {
		t.Fatal(err)
	}
	if b, ok := h.Get("ramp"); !ok || string(b) != "25" {
		t.Errorf("Get = %q, %v", b, ok)
	}
	if err := h.Put("big", make([]byte, maxValue+1)); err == nil {
		t.Error("Put of more than 64 KiB succeeded")
	}
	if err := h.Sync(t.Context()); err != nil {
		t.Errorf("Sync without backends: %v", err)
	}
}

func TestEncoding(t *testing.T) {
	for _, xs := range [][]float64{{}, {1.5, -2, 1e300}, make([]float64, 100)} {
		got, err := decodeVector(encodeVector(xs))
		if err != nil || !slices.Equal(got, xs) {
			t.Errorf("round trip %v: %v, %v", xs, got, err)
		}
	}
	for _, b := range [][]byte{nil, {2, 0, 0, 0, 0}, {1, 2, 0, 0, 0, 1}} {
		if _, err := decodeVector(b); err == nil {
			t.Errorf("decodeVector(%v) succeeded", b)
		}
	}
}

// TestStoreRestart: a new hub on the same SQLite file resumes the totals
// and values the old one saved.
func TestStoreRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sextant.db")
	steps := []struct {
		name string
		// do runs on a fresh hub over the file, after Open of "v" (3).
		do         func(h *Hub, v *Vector)
		wantOpen   []float64 // the total the fresh hub opened with
		wantValue  string
		wantSynced []float64
	}{
		{
			name:       "first run",
			do:         func(h *Hub, v *Vector) { v.Add([]float64{1, 2, 3}); _ = h.Put("ramp", []byte("10")) },
			wantOpen:   []float64{0, 0, 0},
			wantSynced: []float64{1, 2, 3},
		},
		{
			name:       "restart resumes",
			do:         func(h *Hub, v *Vector) { v.AddAt(0, 10) },
			wantOpen:   []float64{1, 2, 3},
			wantValue:  "10",
			wantSynced: []float64{11, 2, 3},
		},
		{
			name:       "reset persists",
			do:         func(h *Hub, v *Vector) { v.Reset(); v.AddAt(1, 1) },
			wantOpen:   []float64{11, 2, 3},
			wantValue:  "10",
			wantSynced: []float64{0, 1, 0},
		},
		{
			name:       "after reset",
			do:         func(*Hub, *Vector) {},
			wantOpen:   []float64{0, 1, 0},
			wantValue:  "10",
			wantSynced: []float64{0, 1, 0},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			db := openSQLite(t, path)
			h := newHub()
			h.UseStore(db)
			v := mustOpen(t, h, "v", 3)
			wantValues(t, "opened", v, st.wantOpen)
			if b, _ := h.Get("ramp"); string(b) != st.wantValue {
				t.Errorf("value = %q, want %q", b, st.wantValue)
			}
			st.do(h, v)
			mustSync(t, h)
			wantValues(t, "synced", v, st.wantSynced)
		})
	}

	// Vectors opened before UseStore load their total in it, under their
	// own additions.
	h := newHub()
	v := mustOpen(t, h, "v", 3)
	v.AddAt(2, 5)
	h.UseStore(openSQLite(t, path))
	wantValues(t, "UseStore after Open", v, []float64{0, 1, 5})

	// A persisted total of another length is ignored.
	h = newHub()
	h.UseStore(openSQLite(t, path))
	wantValues(t, "other length", mustOpen(t, h, "v", 2), []float64{0, 0})
}

// failingStore fails every call until healed.
type failingStore struct {
	mu     sync.Mutex
	broken bool
	Store
}

func (f *failingStore) LoadTally(ctx context.Context, kind, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken {
		return nil, fmt.Errorf("disk on fire")
	}
	return f.Store.LoadTally(ctx, kind, key)
}

func (f *failingStore) SaveTally(ctx context.Context, blobs []store.TallyBlob) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken {
		return fmt.Errorf("disk on fire")
	}
	return f.Store.SaveTally(ctx, blobs)
}

func (f *failingStore) set(broken bool) { f.mu.Lock(); f.broken = broken; f.mu.Unlock() }

// TestStoreFailure: a failed load never lets a partial total overwrite
// the persisted one; a failed save is retried.
func TestStoreFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sextant.db")
	db := openSQLite(t, path)
	h := newHub()
	h.UseStore(db)
	mustOpen(t, h, "v", 2).Add([]float64{5, 5})
	mustSync(t, h)

	fs := &failingStore{Store: db, broken: true}
	h2 := newHub()
	h2.UseStore(fs)
	v := mustOpen(t, h2, "v", 2) // load fails
	v.AddAt(0, 1)
	wantValues(t, "unloaded", v, []float64{1, 0})
	if err := h2.Sync(t.Context()); err == nil {
		t.Fatal("Sync on a broken store succeeded")
	}
	fs.set(false)
	mustSync(t, h2)
	wantValues(t, "loaded at the retry", v, []float64{6, 5})
	fs.set(true)
	v.AddAt(1, 1)
	if err := h2.Sync(t.Context()); err == nil {
		t.Fatal("Sync on a broken store succeeded")
	}
	fs.set(false)
	mustSync(t, h2)

	h3 := newHub()
	h3.UseStore(db)
	wantValues(t, "saved at the retry", mustOpen(t, h3, "v", 2), []float64{6, 6})
}

// TestRedisReplicas: two hubs on one Redis act as two replicas.
func TestRedisReplicas(t *testing.T) {
	addr := redistest.Start(t)
	tests := []struct {
		name string
		// run drives replicas a and b (vector "v" of 3 on each) and
		// returns what both must show after two more syncs.
		run func(t *testing.T, a, b *Hub, va, vb *Vector) []float64
	}{
		{
			name: "additions converge to the sum",
			run: func(t *testing.T, a, b *Hub, va, vb *Vector) []float64 {
				va.Add([]float64{1, 2, 3})
				vb.Add([]float64{10, 20, 30})
				mustSync(t, a)
				va.AddAt(0, 0.5)
				return []float64{11.5, 22, 33}
			},
		},
		{
			name: "concurrent additions and syncs",
			run: func(t *testing.T, a, b *Hub, va, vb *Vector) []float64 {
				var wg sync.WaitGroup
				for _, r := range []struct {
					h *Hub
					v *Vector
				}{{a, va}, {b, vb}} {
					for range 4 {
						wg.Go(func() {
							for range 500 {
								r.v.Add([]float64{1, 0.25, -1})
							}
						})
					}
					wg.Go(func() {
						for range 5 {
							_ = r.h.Sync(context.Background())
						}
					})
				}
				wg.Wait()
				return []float64{4000, 1000, -4000}
			},
		},
		{
			name: "reset drops additions from before it",
			run: func(t *testing.T, a, b *Hub, va, vb *Vector) []float64 {
				va.Add([]float64{1, 1, 1})
				vb.Add([]float64{2, 2, 2})
				mustSync(t, a, b)
				vb.AddAt(0, 100) // before b learns of the reset
				va.Reset()
				wantValues(t, "reset here", va, []float64{0, 0, 0})
				va.AddAt(1, 7) // after the reset: counts
				mustSync(t, a, b)
				vb.AddAt(2, 1) // after b pulled the reset: counts
				return []float64{0, 7, 1}
			},
		},
		{
			name: "values",
			run: func(t *testing.T, a, b *Hub, va, vb *Vector) []float64 {
				if err := a.Put("ramp", []byte("50")); err != nil {
					t.Fatal(err)
				}
				mustSync(t, a, b)
				if got, ok := b.Get("ramp"); !ok || string(got) != "50" {
					t.Errorf("b.Get = %q, %v", got, ok)
				}
				_ = b.Put("ramp", []byte("75"))
				mustSync(t, b, a)
				if got, _ := a.Get("ramp"); string(got) != "75" {
					t.Errorf("a.Get after b's Put = %q", got)
				}
				return []float64{0, 0, 0}
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := fmt.Sprintf("t%d:", i)
			a, b := newHub(), newHub()
			a.UseRedis(redisClient(t, addr), prefix)
			b.UseRedis(redisClient(t, addr), prefix)
			va, vb := mustOpen(t, a, "v", 3), mustOpen(t, b, "v", 3)
			want := tt.run(t, a, b, va, vb)
			mustSync(t, a, b, a, b)
			wantValues(t, "a", va, want)
			wantValues(t, "b", vb, want)
		})
	}
}

// TestRedisSeedOnce: replicas starting on an empty Redis seed it from the
// store once, and a restart of both resumes from Redis or the store.
func TestRedisSeedOnce(t *testing.T) {
	addr := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "sextant.db")
	h0 := newHub()
	h0.UseStore(openSQLite(t, path))
	mustOpen(t, h0, "v", 2).Add([]float64{3, 4})
	_ = h0.Put("ramp", []byte("5"))
	mustSync(t, h0)

	replica := func() (*Hub, *Vector) {
		h := newHub()
		h.UseStore(openSQLite(t, path))
		h.UseRedis(redisClient(t, addr), "s:")
		return h, mustOpen(t, h, "v", 2)
	}
	a, va := replica()
	b, vb := replica()
	va.AddAt(0, 1)
	if got, _ := b.Get("ramp"); string(got) != "5" { // loaded from the store
		t.Errorf("value = %q", got)
	}
	var wg sync.WaitGroup
	for _, h := range []*Hub{a, b} {
		wg.Go(func() { _ = h.Sync(context.Background()) })
	}
	wg.Wait()
	mustSync(t, a, b)
	wantValues(t, "a", va, []float64{4, 4})
	wantValues(t, "b", vb, []float64{4, 4})
	rc := redisClient(t, addr)
	if got, err := rc.Get(t.Context(), "s:val:ramp").Result(); err != nil || got != "5" {
		t.Errorf("value in Redis = %q, %v", got, err)
	}

	// A replica whose store load fails must not create the hash.
	rc.FlushAll(t.Context())
	fs := &failingStore{Store: openSQLite(t, path), broken: true}
	c := newHub()
	c.UseStore(fs)
	c.UseRedis(rc, "s:")
	vc := mustOpen(t, c, "v", 2)
	vc.AddAt(1, 1)
	_ = c.Sync(t.Context())
	if n, _ := rc.Exists(t.Context(), "s:v:{v}").Result(); n != 0 {
		t.Fatal("an unloaded vector created its hash")
	}
	fs.set(false)
	mustSync(t, c)
	wantValues(t, "seeded after the load", vc, []float64{4, 5})
}

// TestRedisDown: Redis errors never fail Add or Values, the deltas stay
// pending and reach Redis once it answers (here: a re-pointed hub).
func TestRedisDown(t *testing.T) {
	dead := redisClient(t, "127.0.0.1:1")
	h := newHub()
	h.UseRedis(dead, "d:")
	v := mustOpen(t, h, "v", 2)
	v.Add([]float64{1, 2})
	if err := h.Sync(t.Context()); err == nil {
		t.Fatal("Sync to a dead Redis succeeded")
	}
	v.AddAt(0, 1)
	wantValues(t, "while down", v, []float64{2, 2})

	addr := redistest.Start(t)
	h.UseRedis(redisClient(t, addr), "d:")
	peer := newHub()
	peer.UseRedis(redisClient(t, addr), "d:")
	pv := mustOpen(t, peer, "v", 2)
	mustSync(t, h, peer)
	wantValues(t, "after re-pointing", pv, []float64{2, 2})
	wantValues(t, "after re-pointing", v, []float64{2, 2})
}

// TestRedisPushAtMostOnce: a push retried after a lost reply (same
// sequence number) is not applied twice.
func TestRedisPushAtMostOnce(t *testing.T) {
	addr := redistest.Start(t)
	h := newHub()
	rc := redisClient(t, addr)
	h.UseRedis(rc, "o:")
	v := mustOpen(t, h, "v", 1)
	v.AddAt(0, 1)
	rb := h.redis.Load()
	p, args := h.preparePush(rb, v, nil)
	k := rb.vectorKey("v")
	for range 2 { // the first reply is "lost": inflight stays
		if err := pushScript.Run(t.Context(), rc, []string{k, k + ":ack:" + h.id}, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if v.inflightSeq != p.seq || v.inflight == nil {
		t.Fatal("push not in flight")
	}
	mustSync(t, h) // retries the same push
	wantValues(t, "after retries", v, []float64{1})
	if got, _ := rc.HGet(t.Context(), k, "0").Result(); got != "1" {
		t.Errorf("Redis has %q, want 1", got)
	}
}

func TestRunFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sextant.db")
	db := openSQLite(t, path)
	h := newHub()
	h.UseStore(db)
	v := mustOpen(t, h, "v", 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { h.Run(ctx, time.Hour); close(done) }()
	v.AddAt(0, 42)
	cancel()
	<-done
	b, err := db.LoadTally(t.Context(), store.TallyVector, "v")
	if xs, derr := decodeVector(b); err != nil || derr != nil || !slices.Equal(xs, []float64{42}) {
		t.Errorf("after Run: %v, %v, %v", xs, err, derr)
	}
}

func BenchmarkAdd(b *testing.B) {
	for _, n := range []int{4, 16, 64} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h := newHub()
			v, _ := h.Open("v", n)
			d := make([]float64, n)
			for i := range d {
				d[i] = float64(i)
			}
			b.ReportAllocs()
			for b.Loop() {
				v.Add(d)
			}
		})
	}
	b.Run("AddAt", func(b *testing.B) {
		v, _ := newHub().Open("v", 16)
		b.ReportAllocs()
		for b.Loop() {
			v.AddAt(3, 1)
		}
	})
}

// TestUseStoreTwice: giving the hub the store it has must not load the
// saved total on top of the additions it already holds.
func TestUseStoreTwice(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "sextant.db"))
	h := newHub()
	h.UseStore(db)
	v := mustOpen(t, h, "v", 1)
	v.AddAt(0, 2)
	mustSync(t, h)
	h.UseStore(db)
	wantValues(t, "after UseStore again", v, []float64{2})
}

// TestRunConcurrent: additions, reads and Puts racing with Run on both
// backends; after Run's flush the store and Redis hold every addition.
func TestRunConcurrent(t *testing.T) {
	addr := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "sextant.db")
	h := newHub()
	h.UseStore(openSQLite(t, path))
	h.UseRedis(redisClient(t, addr), "c:")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { h.Run(ctx, 2*time.Millisecond); close(done) }()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			v := mustOpen(t, h, fmt.Sprint("v", g%2), 2)
			var buf []float64
			for i := range 1000 {
				v.Add([]float64{1, 2})
				buf = v.Values(buf)
				if i%100 == 0 {
					_ = h.Put(fmt.Sprint("p", g), []byte{byte(i)})
					h.Get(fmt.Sprint("p", (g+1)%4))
				}
			}
		})
	}
	wg.Wait()
	cancel()
	<-done

	h2 := newHub()
	h2.UseStore(openSQLite(t, path))
	for _, k := range []string{"v0", "v1"} {
		wantValues(t, "restarted", mustOpen(t, h2, k, 2), []float64{2000, 4000})
	}
	h3 := newHub()
	h3.UseRedis(redisClient(t, addr), "c:")
	v := mustOpen(t, h3, "v0", 2)
	mustSync(t, h3)
	wantValues(t, "another replica", v, []float64{2000, 4000})
}

// TestRedisLostData: a Redis that lost its data (restarted without
// persistence, flushed, evicted) is reseeded from the replicas' last
// pulled totals rather than restarting every replica, and then the store,
// from zero.
func TestRedisLostData(t *testing.T) {
	addr := redistest.Start(t)
	rc := redisClient(t, addr)
	a, b := newHub(), newHub()
	a.UseRedis(redisClient(t, addr), "l:")
	b.UseRedis(redisClient(t, addr), "l:")
	va, vb := mustOpen(t, a, "v", 2), mustOpen(t, b, "v", 2)
	va.Add([]float64{1, 2})
	vb.Add([]float64{10, 20})
	mustSync(t, a, b, a)
	wantValues(t, "before the loss", va, []float64{11, 22})
	if err := rc.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	va.AddAt(0, 1)
	vb.AddAt(1, 1)
	mustSync(t, a, b, a, b, a, b)
	wantValues(t, "a after the loss", va, []float64{12, 23})
	wantValues(t, "b after the loss", vb, []float64{12, 23})
}

// TestRedisNewClientSameServer: a new client for the same Redis (a reload
// that changed the state block's settings) must not apply again a push
// whose reply the old client lost.
func TestRedisNewClientSameServer(t *testing.T) {
	addr := redistest.Start(t)
	h := newHub()
	rc := redisClient(t, addr)
	h.UseRedis(rc, "n:")
	v := mustOpen(t, h, "v", 1)
	v.AddAt(0, 1)
	rb := h.redis.Load()
	_, args := h.preparePush(rb, v, nil)
	k := rb.vectorKey("v")
	// Applied, but the reply is "lost": the push stays in flight.
	if err := pushScript.Run(t.Context(), rc, []string{k, k + ":ack:" + h.id}, args...).Err(); err != nil {
		t.Fatal(err)
	}
	h.UseRedis(redisClient(t, addr), "n:")
	mustSync(t, h, h)
	wantValues(t, "after the new client", v, []float64{1})
	if got, _ := rc.HGet(t.Context(), k, "0").Result(); got != "1" {
		t.Errorf("Redis has %q, want 1", got)
	}
}

// TestRunFlushesAfterLostReply: a push whose reply was lost (a Sync cut
// short by Run's context) is retried as it was by the next Sync, which
// leaves newer additions pending; Run's final flush must send those too.
func TestRunFlushesAfterLostReply(t *testing.T) {
	addr := redistest.Start(t)
	h := newHub()
	rc := redisClient(t, addr)
	h.UseRedis(rc, "f:")
	v := mustOpen(t, h, "v", 1)
	v.AddAt(0, 1)
	h.preparePush(h.redis.Load(), v, nil) // in flight, outcome unknown
	v.AddAt(0, 10)                        // pending behind it
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h.Run(ctx, time.Hour) // only the final flush
	peer := newHub()
	peer.UseRedis(redisClient(t, addr), "f:")
	pv := mustOpen(t, peer, "v", 1)
	mustSync(t, peer)
	wantValues(t, "in Redis after Run's flush", pv, []float64{11})
}
