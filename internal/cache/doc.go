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
// Coalescing: Cache.Do runs one upstream call for concurrent identical
// keys; followers get the leader's answer. A leader's failure is handed to
// its followers and never stored. The engine coalesces non-streaming
// requests only: a streaming miss runs its own upstream call and is
// assembled (hold.Assembler) and stored when it ends cleanly; a follower
// shares its leader's deadline, so a leader canceled by its client fails
// its followers too (they may retry).
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
