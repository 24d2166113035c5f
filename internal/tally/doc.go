// Package tally keeps the statistics that learning policy nodes build up:
// named vectors of float64 sums that only change by addition (a bandit's
// per-arm Gram matrices and reward sums, an experiment's per-arm counts,
// sums and latency histograms), and small named values (an experiment's
// manual ramp or promoted arm), durably and shared between replicas.
//
// # What it does
//
// A Hub holds every open Vector and value of the process; Default is the
// one the nodes use. Additive statistics are what make sharing simple: a
// replica's view of a vector is the shared total plus what it added since,
// whatever the order of everyone's additions.
//
// In memory only by default. UseStore makes the state durable in the
// decision store (the tally table of internal/store, schema version 4):
// a vector loads its persisted total when first opened (vectors already
// open load it in UseStore), a value when first read, and Sync saves the
// vectors and values changed since the last save, in one transaction.
// A vector is saved as the byte 1 (the encoding's version), its length as
// a little-endian uint32 and its elements as little-endian float64s; a
// value as its bytes.
//
// UseRedis shares them across replicas. Add only touches memory: each
// vector keeps the last total pulled from Redis plus its pending
// additions, and Sync sends, in one pipeline, one Lua script call per
// vector that adds the pending deltas with HINCRBYFLOAT (one hash field
// per element index) and returns the whole hash, which becomes the new
// pulled total; Values is pulled total + pending. Put sends SET at the
// next Sync and every Sync reads values back with GET (last writer wins).
// Run calls Sync on a timer and flushes on the way out.
//
// # Redis protocol
//
// Each push carries a sequence number; the script records the last one
// applied per replica and vector (an ack key expiring after a day), so a
// push whose reply was lost is retried with the same deltas and applied at
// most once. When a vector's hash does not exist, the first replica to
// push creates it and seeds it with its persisted total, atomically, so
// two replicas starting together do not double it; a replica whose
// persisted total could not be loaded waits rather than create it. A hash
// that disappears later (Redis restarted without persistence, flushed or
// evicted) is recreated by the next replica to sync, seeded with its last
// pulled total at its epoch; a pull never creates an empty one. Values
// Redis lacks are seeded with SETNX.
//
// Reset zeroes the vector here at once, and at the next Sync in the store
// and in Redis: the script deletes the hash and recreates it with its
// "epoch" field incremented. Every push carries the epoch its deltas were
// added at (that of the last pull); deltas from an older epoch are dropped
// and the replica adopts the zeroed total. So additions that another
// replica made before it learned of a reset (at most about one sync
// interval's worth) are discarded with it rather than resurrected, and
// additions made after the reset on the resetting replica count. A replica
// that has never pulled a vector yet has no epoch, and its deltas are
// applied whatever the epoch.
//
// # Contract
//
// Vectors are identified by key; Open with the same key returns the same
// vector, and opening a key with another length is an error (a config
// change that changes a learner's shape must change its key: a persisted
// total of another length is ignored and overwritten). Add is cheap, never
// blocks on I/O and never fails; Values returns this replica's view, which
// includes other replicas' additions up to their last Sync and this one's.
// All methods are safe for concurrent use. There is no Close: cancel Run's
// context, wait for Run to return (it has then flushed), and only then
// close the store and the Redis client.
//
// # Failure behaviour
//
// No backend error ever fails Open, Add, Values, Put or Get. A failed
// store load leaves the vector with this process's additions only; it is
// retried by every Sync and, until it succeeds, the vector is not saved
// (so the persisted total is never overwritten by a partial one) and may
// not create its Redis hash. A failed save keeps the changes dirty for the
// next Sync. A failed Redis push keeps the deltas pending (or in flight,
// retried as they were) and the view local; a failed pull keeps the last
// pulled total. Errors are logged once when a backend starts failing and
// once when it recovers. Non-finite deltas are not sent to Redis. Without
// Redis, replicas sharing one store do not share totals: each saves its
// own view and the last save wins.
//
// # Example
//
//	tally.Default.UseStore(decisionLog)                 // *store.Log
//	tally.Default.UseRedis(client, "sextant:tally:")    // optional
//	go tally.Default.Run(ctx, time.Second)
//
//	v, err := tally.Default.Open("bandit/auto/fast/3f2a", 1+d+d*d)
//	if err != nil { ... }
//	v.AddAt(0, 1)                  // on the request path: memory only
//	stats := v.Values(buf[:0])     // this replica's view of the totals
package tally
