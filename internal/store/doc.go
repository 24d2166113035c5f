// Package store keeps the decision log and the feedback given on answers.
//
// # What it does
//
// Every request ends in one Decision: the route the client named, the
// model that answered, the status, usage, cost, latency, the caller's key
// and tier, and the trace of every node decision and model attempt. The
// engine hands it to a Log, whose Record never blocks the request path:
// records wait in a bounded in-memory queue and one writer goroutine stores
// them in batches, one transaction per batch. Feedback (a score, a label, a
// comment) is attached later by request id and kept beside the decision.
//
// A Store is the durable half and has one contract for every backend.
// SQLite (modernc.org/sqlite, pure Go) is the default: WAL mode, a busy
// timeout, and a schema versioned in the database's user_version, migrated
// forward at open. PostgreSQL is meant to implement the same interface.
//
// Reads go through the Log, which answers from its queue first: a decision
// can be fetched, and given feedback, the moment it is recorded.
//
// # Config
//
//	store:
//	  driver: sqlite        # the only driver so far
//	  path: sextant.db      # SQLite file; ":memory:" for a throwaway log
//	  queue: 4096           # records waiting to be written; more are dropped
//	  batch: 256            # records per transaction
//	  flush_every: 200ms    # longest wait before a partial batch is written
//	  attempts: 4           # tries of a failing batch before it is dropped
//	  log_requests: false   # also store each request as served (prompts!)
//
// With log_requests on, each Decision carries the request as served
// (Decision.Request, the JSON of the llm.Request), so that `sextant eval
// --from-log` can re-run logged traffic through another route config. It
// is off by default because prompts may hold personal data; decisions
// logged without it cannot be re-run. Schema version 2 added the column;
// version 1 databases are migrated at open and their decisions have no
// request. Schema version 3 added trace_id (Decision.TraceID), the
// OpenTelemetry trace id of the request when tracing is on. Schema version
// 4 added the tally table, where package tally keeps the learning policy
// nodes' statistics (TallyStore: LoadTally, SaveTally; the Log passes
// them straight to its Store).
//
// # Metrics
//
// None are registered here yet. Log.Written, Log.Dropped, Log.WriteErrors
// and Log.Queued are read by the metrics layer; suggested names are
// sextant_decisions_written_total, sextant_decisions_dropped_total,
// sextant_decision_write_errors_total and sextant_decision_queue_records.
//
// # Failure behaviour
//
// The decision log never fails or slows a request. When the queue is full
// (the store is slower than the traffic), Record drops the record and
// counts it; drops are logged at most every 10 seconds. A failing batch is
// retried with doubling backoff, Attempts times in all, then its records
// are dropped, counted and logged with the error. A batch holding a record
// that can never be stored (ErrInvalid) is written one record at a time,
// so only that record is lost. Records still queued at shutdown are written
// by Log.Close; if its context ends first they are dropped. A dropped
// decision is simply absent: Get and AddFeedback then report ErrNotFound.
//
// Writing a decision whose request id is already stored replaces it and
// keeps its feedback, so retried writes are harmless. Feedback for an
// unknown request id is refused with ErrNotFound.
//
// # Example
//
//	s, err := store.OpenSQLite("sextant.db")
//	if err != nil { ... }
//	dlog := store.NewLog(s, store.LogOptions{Logger: logger})
//	defer dlog.Close(shutdownCtx)
//
//	dlog.Record(store.Decision{RequestID: id, Route: "auto", Model: "small", Status: 200})
//	d, err := dlog.Get(ctx, id) // found at once, stored or not
package store
