package tally

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sync brings the hub and its backends together: it retries the loads
// that failed, pushes this replica's pending additions, Resets and Puts
// to Redis and pulls back every total and value, then saves to the store
// the vectors and values changed since the last save. Calls are
// serialized. A backend error is logged once per failure streak (and its
// recovery once), and what it concerned is retried at the next Sync; the
// error returned joins them. Without a store or Redis, Sync does nothing.
func (h *Hub) Sync(ctx context.Context) error {
	h.syncMu.Lock()
	defer h.syncMu.Unlock()
	h.mu.Lock()
	st := h.store
	vs := make([]*Vector, 0, len(h.vectors))
	for _, v := range h.vectors {
		vs = append(vs, v)
	}
	keys := make([]string, 0, len(h.values))
	vals := make([]*value, 0, len(h.values))
	for k, val := range h.values {
		keys = append(keys, k)
		vals = append(vals, val)
	}
	h.mu.Unlock()
	rb := h.redis.Load()

	var storeErr, redisErr error
	if st != nil {
		storeErr = h.retryLoads(ctx, st, vs, keys, vals)
	}
	if rb != nil {
		redisErr = h.syncRedis(ctx, rb, vs, keys, vals)
		h.report(&h.redisFailing, "redis", redisErr)
	}
	if st != nil {
		storeErr = errors.Join(storeErr, h.save(ctx, st, vs, keys, vals))
		h.report(&h.storeFailing, "store", storeErr)
	}
	var err error
	if redisErr != nil {
		err = fmt.Errorf("tally: redis: %w", redisErr)
	}
	if storeErr != nil {
		err = errors.Join(err, fmt.Errorf("tally: store: %w", storeErr))
	}
	return err
}

// report logs the start and the end of a failure streak.
func (h *Hub) report(failing *bool, backend string, err error) {
	switch {
	case err != nil && !*failing:
		h.logger().Warn("tally: sync failing; totals stay local and are retried", "backend", backend, "err", err)
	case err == nil && *failing:
		h.logger().Info("tally: sync recovered", "backend", backend)
	}
	*failing = err != nil
}

// DefaultEvery is Run's interval when it is given none.
const DefaultEvery = time.Second

// FlushTimeout bounds Run's final flush and each of its Syncs.
const FlushTimeout = 5 * time.Second

// Run calls Sync every interval (DefaultEvery when every <= 0) until ctx
// ends, then flushes what is pending (up to three Syncs, until Redis has
// every addition, all under one fresh FlushTimeout), and returns. A Hub has no Close: stopping is canceling Run's
// context and waiting for Run to return; only then may the store and the
// Redis client be closed. Without a Run, nothing is pushed, pulled or
// saved (Sync may also be called directly).
func (h *Hub) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FlushTimeout)
			// A Sync that retries a push whose reply was lost sends only
			// that push; the additions behind it need another.
			for range 3 {
				if err := h.Sync(fctx); err != nil || !h.unpushed() { // logged by Sync
					break
				}
			}
			cancel()
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, FlushTimeout)
			_ = h.Sync(sctx)
			cancel()
		}
	}
}

// unpushed reports whether, sharing through Redis, some vector still has
// additions or a Reset that Redis has not acknowledged.
func (h *Hub) unpushed() bool {
	if h.redis.Load() == nil {
		return false
	}
	h.mu.Lock()
	vs := make([]*Vector, 0, len(h.vectors))
	for _, v := range h.vectors {
		vs = append(vs, v)
	}
	h.mu.Unlock()
	for _, v := range vs {
		v.mu.Lock()
		left := v.inflight != nil || v.resetPending || anyNonZero(v.pending)
		v.mu.Unlock()
		if left {
			return true
		}
	}
	return false
}
