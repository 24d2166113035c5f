// Package cache is the exact response cache: a whole answer stored under
// the SHA-256 of the normalised request, scoped by tenant (the caller's
// virtual key name, "" for anonymous callers) and route, for a TTL.
//
// What is hashed: the messages (role, text, parts, name, tool calls, tool
// call id, refusal), tools, tool_choice, parallel_tool_calls,
// response_format and every sampling parameter (temperature, top_p,
// max_tokens, stop, n, seed, logprobs, top_logprobs, presence and
// frequency penalties). What is not: stream, stream_options, user and
// metadata, which do not change the answer.
//
// Storage is a bounded in-memory LRU, backed by Redis when the config has
// `state: {redis: …}` (through state.Current): a memory miss reads Redis and
// a store writes both. Redis errors read as misses and never fail a
// request.
//
// Coalescing: concurrent identical requests (same key) make one upstream
// call. Non-streaming requests go through Cache.Do: followers get the
// leader's answer; a leader's failure is handed to its followers and never
// stored, and a follower shares its leader's deadline, so a leader
// canceled by its client fails its followers too (they may retry).
//
// Streaming requests go through Cache.JoinStream. The leader runs the tree
// and streams live to its client while Lead.Record assembles the answer
// (hold.Assembler); when the stream ends cleanly the answer is stored and
// handed to the followers, who have been waiting and get it replayed as a
// stream (Replay), as a hit whose trace reason is "coalesced". When the
// leader ends without a whole answer (its call failed, its stream broke, or
// its client closed it early) the followers get ErrLeaderFailed and each
// makes its own call, uncoalesced, so none hangs on a leader that is gone;
// a follower whose own context ends stops waiting. A follower waits as
// long as the leader's client takes to read the answer. Streaming and
// non-streaming requests coalesce separately.
//
// Trace and metrics: a hit is a decision of kind "cache", decision "hit",
// with data {model, cache: "exact" | "semantic"} (coalesced followers are
// exact hits); a miss is decision "miss". The metric
// sextant_cache_lookups_total has the label cache with the same values
// ("" on a miss).
//
// Config (top level of the config file):
//
//	cache:
//	  enabled: true
//	  ttl: 10m            # default 5m
//	  max_entries: 10000  # default 10000
//	  routes: [race, hedge]  # default: every route and model
//	  semantic:              # optional; see below
//	    embed_model: emb     # a model with the embeddings capability
//	    threshold: 0.95      # least cosine similarity for a hit; default 0.95
//	    max_entries: 5000    # per scope; default 5000
//
// Semantic cache (Semantic, in memory only: Redis holds exact entries
// only). On an exact miss the engine embeds the last user message through
// the executor (its cost lands in the request's trace) and searches, by
// cosine similarity with a linear scan, the entries of the request's scope
// (Scope): the Key of the request without its last message, so tenant,
// route, every system or developer message, earlier turns, tools,
// response_format and sampling parameters all have to match. A hit at or
// above the threshold answers like an exact hit, with the trace reason
// "semantic 0.97"; each scope is an LRU of at most max_entries. A request
// whose last message is not a plain-text user message skips it, and an
// embedding error is a miss that never fails the request.
//
// Request header x-sextant-cache: bypass (neither read nor write) or
// refresh (skip the read, store the answer). The response header
// x-sextant-cache says hit, miss or bypass.
package cache
