package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/signals"
)

// Config is the config file's state block.
type Config struct {
	Redis *RedisConfig `json:"redis"`
}

// RedisConfig connects to the Redis that replicas share.
type RedisConfig struct {
	// Addr is host:port; required.
	Addr string `json:"addr"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `json:"password_env"`
	DB          int    `json:"db"`
	// Prefix starts every key; default "sextant:". Replicas that share
	// state must share it.
	Prefix string `json:"prefix"`
	// Sync is how often signals are published and peers' signals and
	// circuits fetched; default 250ms.
	Sync conf.Duration `json:"sync"`
}

// Validate checks c, found at path.
func (c *Config) Validate(path string) error {
	if c.Redis == nil {
		return nil
	}
	r, p := c.Redis, conf.Join(path, "redis")
	switch {
	case r.Addr == "":
		return conf.Errorf(conf.Join(p, "addr"), "required: host:port of the Redis the replicas share")
	case r.DB < 0:
		return conf.Errorf(conf.Join(p, "db"), "must not be negative")
	case r.Sync < 0 || (r.Sync > 0 && r.Sync.D() < 10*time.Millisecond):
		return conf.Errorf(conf.Join(p, "sync"), "must be at least 10ms")
	}
	return nil
}

// Redis is state shared through Redis: a KV (stickiness), Counters (rate
// limits and budgets), and a background loop that publishes this
// replica's signals and fetches its peers' signals and circuit trips
// (signals.Shared, health.Shared). Redis errors never fail a request: a
// KV miss, a count of 0 and stale peer data are what a failing Redis
// looks like, and each is logged at most once per sync.
type Redis struct {
	c      *redis.Client
	prefix string
	id     string
	sync   time.Duration
	sig    *signals.Registry
	log    *slog.Logger

	mu    sync.RWMutex
	peers map[string][]signals.Stats
	open  map[string]time.Time

	stop chan struct{}
	done chan struct{}
}

const opTimeout = 250 * time.Millisecond

// NewRedis connects (lazily) and starts the sync loop feeding from and to
// sig. Close stops it.
func NewRedis(c RedisConfig, password string, sig *signals.Registry, log *slog.Logger) *Redis {
	if c.Prefix == "" {
		c.Prefix = "sextant:"
	}
	if c.Sync == 0 {
		c.Sync = conf.Duration(250 * time.Millisecond)
	}
	if log == nil {
		log = slog.Default()
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	r := &Redis{
		c:      redis.NewClient(&redis.Options{Addr: c.Addr, Password: password, DB: c.DB, DialTimeout: time.Second, ReadTimeout: opTimeout, WriteTimeout: opTimeout}),
		prefix: c.Prefix, id: hex.EncodeToString(b[:]), sync: c.Sync.D(), sig: sig, log: log,
		peers: map[string][]signals.Stats{}, open: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go r.loop()
	return r
}

// Client returns r's connection, for packages that keep their own shared
// state in the same Redis (internal/tally). It is closed by Close.
func (r *Redis) Client() redis.UniversalClient { return r.c }

// Prefix returns the prefix every key of r starts with; other users of
// Client add their own after it.
func (r *Redis) Prefix() string { return r.prefix }

// Close stops the sync loop and closes the connections.
func (r *Redis) Close() error {
	close(r.stop)
	<-r.done
	return r.c.Close()
}

func (r *Redis) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// Get implements KV.
func (r *Redis) Get(key string) (string, bool) {
	ctx, cancel := r.ctx()
	defer cancel()
	v, err := r.c.Get(ctx, r.prefix+"kv:"+key).Result()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			r.log.Warn("redis get failed", "err", err)
		}
		return "", false
	}
	return v, true
}

// Set implements KV.
func (r *Redis) Set(key, value string, ttl time.Duration) {
	ctx, cancel := r.ctx()
	defer cancel()
	if err := r.c.Set(ctx, r.prefix+"kv:"+key, value, ttl).Err(); err != nil {
		r.log.Warn("redis set failed", "err", err)
	}
}

// Delete implements KV.
func (r *Redis) Delete(key string) {
	ctx, cancel := r.ctx()
	defer cancel()
	_ = r.c.Del(ctx, r.prefix+"kv:"+key).Err()
}

func (r *Redis) counterKey(key string, p Period, id string) string {
	return r.prefix + "count:" + key + ":" + id
}

// Counters returns r's Counters.
func (r *Redis) Counters() Counters { return redisCounters{r} }

type redisCounters struct{ r *Redis }

func (c redisCounters) Add(key string, p Period, n int64) (int64, time.Time) {
	return c.r.add(key, p, n)
}
func (c redisCounters) Get(key string, p Period) (int64, time.Time) { return c.r.count(key, p) }

// add is Counters.Add: INCRBY on the period's key, which expires a
// minute after the period ends.
func (r *Redis) add(key string, p Period, n int64) (int64, time.Time) {
	id, end := p.Window(time.Now())
	k := r.counterKey(key, p, id)
	ctx, cancel := r.ctx()
	defer cancel()
	pipe := r.c.TxPipeline()
	incr := pipe.IncrBy(ctx, k, n)
	pipe.PExpireAt(ctx, k, end.Add(time.Minute))
	if _, err := pipe.Exec(ctx); err != nil {
		r.log.Warn("redis incr failed", "err", err)
		return 0, end
	}
	return incr.Val(), end
}

// count is Counters.Get.
func (r *Redis) count(key string, p Period) (int64, time.Time) {
	id, end := p.Window(time.Now())
	ctx, cancel := r.ctx()
	defer cancel()
	v, err := r.c.Get(ctx, r.counterKey(key, p, id)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		r.log.Warn("redis get failed", "err", err)
	}
	return v, end
}

// Peers implements signals.Shared from the cache the loop refreshes.
func (r *Redis) Peers(model string) []signals.Stats {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.peers[model]
}

// Trip implements health.Shared: it records the trip for the peers
// without blocking the caller.
func (r *Redis) Trip(model string, until time.Time) {
	r.mu.Lock()
	if until.After(r.open[model]) {
		r.open[model] = until
	}
	r.mu.Unlock()
	go func() {
		ctx, cancel := r.ctx()
		defer cancel()
		if err := r.c.HSet(ctx, r.prefix+"circuits", model, strconv.FormatInt(until.UnixMilli(), 10)).Err(); err != nil {
			r.log.Warn("redis circuit publish failed", "err", err)
		}
	}()
}

// OpenUntil implements health.Shared.
func (r *Redis) OpenUntil(model string) time.Time {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.open[model]
}

type published struct {
	At    int64         `json:"at"` // unix ms
	Stats signals.Stats `json:"stats"`
}

func (r *Redis) loop() {
	defer close(r.done)
	t := time.NewTicker(r.sync)
	defer t.Stop()
	failing := false
	for {
		err := r.syncOnce()
		if err != nil && !failing {
			r.log.Warn("redis state sync failing", "err", err)
		} else if err == nil && failing {
			r.log.Info("redis state sync recovered")
		}
		failing = err != nil
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
	}
}

// syncOnce publishes this replica's signals and fetches the peers' and
// the circuit trips.
func (r *Redis) syncOnce() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	now := time.Now()
	stale := 4 * r.sync
	if stale < time.Second {
		stale = time.Second
	}
	pipe := r.c.Pipeline()
	models := r.sig.Models()
	for _, m := range models {
		b, err := json.Marshal(published{At: now.UnixMilli(), Stats: r.sig.Local(m)})
		if err != nil {
			return err
		}
		k := r.prefix + "signals:" + m
		pipe.HSet(ctx, k, r.id, b)
		pipe.PExpire(ctx, k, time.Minute)
	}
	if len(models) > 0 {
		args := make([]any, len(models))
		for i, m := range models {
			args[i] = m
		}
		pipe.SAdd(ctx, r.prefix+"models", args...)
	}
	all := pipe.SMembers(ctx, r.prefix+"models")
	circ := pipe.HGetAll(ctx, r.prefix+"circuits")
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	pipe = r.c.Pipeline()
	names := all.Val()
	gets := make([]*redis.MapStringStringCmd, len(names))
	for i, m := range names {
		gets[i] = pipe.HGetAll(ctx, r.prefix+"signals:"+m)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("fetch: %w", err)
	}
	peers := map[string][]signals.Stats{}
	for i, m := range names {
		for id, v := range gets[i].Val() {
			if id == r.id {
				continue
			}
			var p published
			if json.Unmarshal([]byte(v), &p) != nil || now.Sub(time.UnixMilli(p.At)) > stale {
				continue
			}
			peers[m] = append(peers[m], p.Stats)
		}
	}
	open := map[string]time.Time{}
	for m, v := range circ.Val() {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		if u := time.UnixMilli(ms); u.After(now) {
			open[m] = u
		}
	}
	r.mu.Lock()
	r.peers = peers
	for m, u := range r.open { // local trips not yet visible in Redis
		if u.After(now) && u.After(open[m]) {
			open[m] = u
		}
	}
	r.open = open
	r.mu.Unlock()
	return nil
}

var (
	_ KV             = (*Redis)(nil)
	_ signals.Shared = (*Redis)(nil)
	_ health.Shared  = (*Redis)(nil)
)
