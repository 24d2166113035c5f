package tally

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// redisBackend is one Redis the hub shares through, under a key prefix.
type redisBackend struct {
	c      redis.UniversalClient
	prefix string
	// scriptLoaded: pushScript is known to be in the server's script
	// cache (cleared when EVALSHA says NOSCRIPT).
	scriptLoaded atomic.Bool
}

// UseRedis shares the hub's vectors and values with every replica using
// the same Redis and prefix (nil client: stop sharing). Keys are
// prefix+"v:{"+key+"}" (a hash: field "epoch" and one field per non-zero
// element, by index), prefix+"v:{"+key+"}:ack:"+replica (the last push
// sequence applied, expiring after a day) and prefix+"val:"+key (a
// string). Calling it again with the same client and prefix changes
// nothing; with another, the next Sync starts over against the new Redis:
// pushes whose outcome on the old one is unknown are pushed again with
// their sequence numbers (so a new client to the same Redis does not apply
// them twice), and an absent hash is seeded from this replica's last
// known total. The
// caller keeps owning client (and closes it after Run has returned).
func (h *Hub) UseRedis(client redis.UniversalClient, prefix string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.redis.Load()
	if client == nil {
		h.redis.Store(nil)
		return
	}
	if cur != nil && cur.c == client && cur.prefix == prefix {
		return
	}
	// Values set before sharing began are seeded into Redis where it
	// has none (they never overwrite a shared one).
	h.redis.Store(&redisBackend{c: client, prefix: prefix})
}

func (rb *redisBackend) vectorKey(key string) string { return rb.prefix + "v:{" + key + "}" }
func (rb *redisBackend) valueKey(key string) string  { return rb.prefix + "val:" + key }

// getValue reads one value.
func (rb *redisBackend) getValue(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := rb.c.Get(ctx, rb.valueKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// pushScript applies one vector's push and returns its totals, atomically.
//
//	KEYS[1]  the vector's hash; KEYS[2] this replica's ack key for it
//	ARGV[1]  push sequence number, 0 for a pull only
//	ARGV[2]  the epoch the deltas were added at, -1 when never pulled
//	ARGV[3]  1: reset the vector first
//	ARGV[4]  1: the hash may be created (and seeded) if absent
//	ARGV[5]  number of seed pairs; then index/value seed pairs, then
//	         index/delta pairs to the end
//
// It returns {status, epoch, flat field/value list}; status is "ok"
// (applied), "stale" (deltas dropped: the vector was reset since the
// given epoch), "dup" (this sequence number was applied before) or "wait"
// (no hash and may not create it; nothing done).
var pushScript = redis.NewScript(`
local k, ack = KEYS[1], KEYS[2]
local seq, epoch = tonumber(ARGV[1]), ARGV[2]
local reset, create, nseed = ARGV[3] == '1', ARGV[4] == '1', tonumber(ARGV[5])
local status = 'ok'
if seq > 0 and tonumber(redis.call('GET', ack) or '0') >= seq then
  status = 'dup'
else
  local exists = redis.call('EXISTS', k) == 1
  if reset then
    local e = tonumber(redis.call('HGET', k, 'epoch') or '0') + 1
    redis.call('DEL', k)
    redis.call('HSET', k, 'epoch', e)
    epoch = tostring(e)
  elseif not exists then
    if not create then
      return {'wait'}
    end
    redis.call('HSET', k, 'epoch', epoch == '-1' and 0 or epoch)
    for i = 0, nseed - 1 do
      redis.call('HSET', k, ARGV[6 + 2*i], ARGV[7 + 2*i])
    end
  end
  if seq > 0 then
    if epoch == '-1' or epoch == redis.call('HGET', k, 'epoch') then
      for i = 6 + 2*nseed, #ARGV, 2 do
        redis.pcall('HINCRBYFLOAT', k, ARGV[i], ARGV[i+1])
      end
    else
      status = 'stale'
    end
    redis.call('SET', ack, seq, 'PX', 86400000)
  end
end
return {status, redis.call('HGETALL', k)}
`)

// vectorPush is one vector's part of a sync.
type vectorPush struct {
	v      *Vector
	seq    uint64 // 0: pull only
	resets uint64 // v.resets when the push was built
	cmd    *redis.Cmd
}

// valuePush is one value's part of a sync.
type valuePush struct {
	key string
	val *value
	gen uint64
	set *redis.StatusCmd // a push
	get *redis.StringCmd // a pull
}

// syncRedis pushes pending additions and Puts and pulls every total and
// value, in one pipeline.
func (h *Hub) syncRedis(ctx context.Context, rb *redisBackend, vs []*Vector, keys []string, vals []*value) error {
	if !rb.scriptLoaded.Load() {
		if err := pushScript.Load(ctx, rb.c).Err(); err != nil {
			return fmt.Errorf("load script: %w", err)
		}
		rb.scriptLoaded.Store(true)
	}
	pipe := rb.c.Pipeline()
	pushes := make([]vectorPush, 0, len(vs))
	var args []any
	for _, v := range vs {
		p, a := h.preparePush(rb, v, args[:0])
		k := rb.vectorKey(v.key)
		p.cmd = pushScript.EvalSha(ctx, pipe, []string{k, k + ":ack:" + h.id}, a...)
		pushes = append(pushes, p)
		args = a
	}
	vps := make([]valuePush, len(vals))
	h.mu.Lock()
	for i, val := range vals {
		vp := valuePush{key: keys[i], val: val, gen: val.gen}
		if val.gen != val.pushGen && val.set {
			vp.set = pipe.Set(ctx, rb.valueKey(keys[i]), append([]byte(nil), val.data...), 0)
		} else {
			vp.get = pipe.Get(ctx, rb.valueKey(keys[i]))
		}
		vps[i] = vp
	}
	h.mu.Unlock()
	_, execErr := pipe.Exec(ctx)

	var errs []error
	for _, p := range pushes {
		if err := h.finishPush(p); err != nil {
			if redis.HasErrorPrefix(err, "NOSCRIPT") {
				rb.scriptLoaded.Store(false)
			}
			errs = append(errs, fmt.Errorf("vector %q: %w", p.v.key, err))
		}
	}
	var seeds []valuePush
	h.mu.Lock()
	for _, vp := range vps {
		val := vp.val
		switch {
		case vp.set != nil:
			if vp.set.Err() != nil {
				errs = append(errs, fmt.Errorf("value %q: %w", vp.key, vp.set.Err()))
			} else if val.pushGen < vp.gen {
				val.pushGen = vp.gen
			}
		case errors.Is(vp.get.Err(), redis.Nil):
			if val.set && val.loaded && val.gen == vp.gen {
				seeds = append(seeds, valuePush{key: vp.key, val: val, gen: val.gen})
			}
		case vp.get.Err() != nil:
			errs = append(errs, fmt.Errorf("value %q: %w", vp.key, vp.get.Err()))
		case val.gen == vp.gen && val.gen == val.pushGen: // no Put raced with the pull
			b, _ := vp.get.Bytes()
			if !val.set || string(val.data) != string(b) {
				val.data, val.set, val.dirty = b, true, true
			}
			val.loaded = true
		}
	}
	h.mu.Unlock()
	if len(seeds) > 0 {
		errs = append(errs, h.seedValues(ctx, rb, seeds))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if execErr != nil && !errors.Is(execErr, redis.Nil) {
		return execErr
	}
	return nil
}

// seedValues sets values Redis lacks from this replica's (persisted)
// copy, without overwriting one another replica set meanwhile.
func (h *Hub) seedValues(ctx context.Context, rb *redisBackend, seeds []valuePush) error {
	pipe := rb.c.Pipeline()
	h.mu.Lock()
	for i := range seeds {
		pipe.SetNX(ctx, rb.valueKey(seeds[i].key), append([]byte(nil), seeds[i].val.data...), 0)
	}
	h.mu.Unlock()
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("seed values: %w", err)
	}
	return nil // the next Sync pulls whichever copy won
}

// preparePush snapshots v for a push: the inflight additions of a push
// whose outcome is unknown, or else the pending ones (moved to inflight),
// or else nothing (a pull). It appends the script's ARGV to args.
func (h *Hub) preparePush(rb *redisBackend, v *Vector, args []any) (vectorPush, []any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.backend != rb {
		// A new client: a push whose outcome is unknown stays in flight
		// with its sequence number, so the same Redis (a new client to
		// it) applies it at most once and another one applies it. A
		// Reset not yet pushed stays pending: it resets the new Redis.
		v.backend, v.epoch = rb, -1
	}
	if v.spare == nil {
		v.spare = make([]float64, len(v.total))
	}
	if v.inflight == nil && (v.resetPending || anyNonZero(v.pending)) {
		v.inflight, v.pending, v.spare = v.pending, v.spare, nil
		v.inflightSeq = h.seq.Add(1)
		v.inflightReset, v.resetPending = v.resetPending, false
	}
	p := vectorPush{v: v, resets: v.resets}
	var deltas []float64
	reset := false
	if v.inflight != nil {
		p.seq, deltas, reset = v.inflightSeq, v.inflight, v.inflightReset
	}
	// The hash may be created from base only when base is the persisted
	// total (never pulled) or the last pulled one after Redis lost the
	// hash (reseed); a pull must never create it empty.
	seed := (v.epoch < 0 || v.reseed) && v.loaded
	args = append(args, p.seq, v.epoch, flag(reset), flag(seed), 0)
	nseed := 0
	if seed && !reset {
		for i, x := range v.base {
			if x != 0 && finite(x) {
				args = append(args, i, x)
				nseed++
			}
		}
		args[4] = nseed
	}
	for i, d := range deltas {
		if d != 0 && finite(d) { // a non-finite delta would fail HINCRBYFLOAT
			args = append(args, i, d)
		}
	}
	return p, args
}

// finishPush applies a push's reply to its vector.
func (h *Hub) finishPush(p vectorPush) error {
	v := p.v
	res, err := p.cmd.Slice()
	if err != nil {
		// Unknown outcome: inflight stays and is retried as it is.
		return err
	}
	status, _ := res[0].(string)
	v.mu.Lock()
	defer v.mu.Unlock()
	mine := p.seq != 0 && v.inflight != nil && v.inflightSeq == p.seq
	if status == "wait" {
		// Not applied: the hash is absent and this vector's persisted
		// total is not loaded yet, so it may not create it.
		if mine {
			for i, d := range v.inflight {
				v.pending[i] += d
			}
			v.spare, v.inflight = v.inflight, nil
			clear(v.spare)
			v.resetPending = v.resetPending || v.inflightReset
		}
		// The hash is gone (Redis lost its data): the next push recreates
		// it from this replica's last known total.
		v.reseed = true
		return nil
	}
	if len(res) < 2 {
		return fmt.Errorf("tally: unexpected push reply %v", res)
	}
	v.reseed = false
	if mine {
		v.spare, v.inflight = v.inflight, nil
		clear(v.spare)
	}
	if v.resets != p.resets {
		return nil // reset here during the push: the totals are from before
	}
	fields, _ := res[1].([]any)
	epoch := int64(0)
	clear(v.base)
	for i := 0; i+1 < len(fields); i += 2 {
		name, _ := fields[i].(string)
		val, _ := fields[i+1].(string)
		if name == "epoch" {
			epoch, _ = strconv.ParseInt(val, 10, 64)
			continue
		}
		idx, err1 := strconv.Atoi(name)
		x, err2 := strconv.ParseFloat(val, 64)
		if err1 == nil && err2 == nil && idx >= 0 && idx < len(v.base) {
			v.base[idx] = x
		}
	}
	old := v.total
	changed := false
	for i := range old {
		t := v.base[i] + v.pending[i]
		if v.inflight != nil {
			t += v.inflight[i]
		}
		if t != old[i] {
			changed = true
			old[i] = t
		}
	}
	v.epoch, v.loaded = epoch, true
	v.dirty = v.dirty || changed
	return nil
}

func anyNonZero(xs []float64) bool {
	for _, x := range xs {
		if x != 0 {
			return true
		}
	}
	return false
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}
