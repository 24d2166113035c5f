// Package rules provides the "rules" policy node: route a request by the
// first of an ordered list of conditions that holds, written in CEL (the
// Common Expression Language), or to a default.
//
// # What it does
//
// Each rule pairs a condition (when) with a subtree (route): a model name or
// any policy node, {fallback: [...]}, {rules: {...}} and so on. Serve
// evaluates the conditions in order against the request's features, the
// caller, the allowed headers and the time, and hands the request to the
// route of the first that is true; when none is, to default. It records one
// trace decision, with the node's config path and kind "rules":
//
//	Decision: "long-or-code -> gpt-4"   (rule name -> model name or subtree kind)
//	Reason:   "matched: request.tokens > 1500 || request.has_code"
//
// or "default -> mixtral" with the reason "no rule matched; default".
//
// # Config
//
//	rules:
//	  rules:                      # required, at least one, tried in order
//	    - name: long-or-code      # optional, defaults to "rules[i]"; unique
//	      when: 'request.tokens > 1500 || request.has_code'   # required, boolean CEL
//	      route: gpt-4            # required subtree
//	  default: mixtral            # required subtree
//	  timezone: Europe/Berlin     # optional IANA zone for hour and weekday; default UTC
//	  cost_limit: 10000000        # optional CEL cost budget per evaluation (DefaultCostLimit)
//
// Every condition is parsed, type-checked and planned when the config loads
// (regex literals included), and must have type bool. A fault is a
// *conf.Error at the exact path, with CEL's message, position and a caret:
//
//	routes.auto.rules.rules[1].when: 1:8: undefined field 'tokenz'
//	 | request.tokenz > 1500
//	 | .......^
//
// # Variables
//
// request, the request's features (see package features for how each is
// computed; content features look at what the user wrote):
//
//	chars, tokens            int     text size in characters and estimated cl100k tokens
//	messages, user_turns     int     all messages; user messages
//	last_user                string  text of the last user message
//	last_user_chars          int
//	system                   bool    a system or developer message is present
//	has_code                 bool    fenced code or strong code markers
//	code_langs               list(string)  e.g. ["go", "python"]
//	has_math                 bool    arithmetic, equations, LaTeX, math symbols
//	question_words           int     what, why, how, when, where, who, whom, whose, which
//	multi_step               bool    "step by step", "first ... then", a numbered list
//	language                 string  dominant script of the last user message: "latin",
//	                                 "cyrillic", "greek", "arabic", "hebrew", "devanagari",
//	                                 "thai", "hangul", "kana" (Japanese), "han" (Chinese),
//	                                 ... or "" without letters
//	tools                    int     declared tools
//	json, logprobs, stream   bool    response_format json_object/json_schema; logprobs; stream
//	images                   int     image parts
//	max_tokens               int     0 when unset
//	model, user              string  the model name the client sent; the user field
//	metadata                 map(string, string)  request metadata
//
// caller, who is calling: key, tier, session (strings) and metadata
// (map(string, string), request metadata merged with the key's labels).
//
// headers, map(string, string): the request headers the gateway allows
// rules to read, by lower-case name; repeated headers are joined with ", ".
//
// load, an int: the chat requests in flight in this process (internal/load),
// for a peak mode: `load > 200`.
//
// now, a timestamp: when the request arrived (the clock, if the caller set
// no arrival time). hour (0-23) and weekday (0 = Sunday ... 6 = Saturday)
// are ints in the configured timezone; CEL's timestamp accessors on now
// (now.getHours()) use UTC unless given a zone.
//
// Reading a map key that is absent is an evaluation error (see below); test
// first, `"team" in caller.metadata && caller.metadata.team == "ml"`, or use
// an optional, `caller.metadata.?team.orValue("") == "ml"`. Maps are never
// null: a request without metadata has an empty map.
//
// # Functions
//
// The CEL standard library (size, startsWith, endsWith, contains, in,
// timestamp and duration arithmetic, all/exists/map/filter macros, optional
// values) and:
//
//	matches(text, re)           RE2 regular expression search; (?i) for case-insensitive.
//	                            A literal pattern is compiled once, at load.
//	contains_any(text, words)   true when text holds any of words (a list of strings)
//	                            as a whole word or phrase, ignoring case: "refund"
//	                            matches "a Refund." but not "refunds". Words in scripts
//	                            written without spaces (Chinese, Japanese, Thai) match
//	                            anywhere.
//	model_signal(model, name)   a model's live signal (internal/signals; merged across
//	                            replicas with shared state) as a double: latency_p50_ms,
//	                            latency_p95_ms, latency_p99_ms, latency_ewma_ms,
//	                            ttft_p50_ms, ttft_p95_ms, error_rate, requests, in_flight,
//	                            tokens_per_second, spend_usd; 0 for a model never called.
//	                            The upstream's latest rate-limit headroom:
//	                            ratelimit_remaining_requests, ratelimit_remaining_tokens,
//	                            ratelimit_remaining_requests_share,
//	                            ratelimit_remaining_tokens_share (0..1); these are -1
//	                            while unknown, so test them with >= 0 first.
//	                            An unknown name is an evaluation error.
//	model_healthy(model)        false while the model's circuit is open (internal/health)
//
// # Metrics
//
// None of its own; decisions appear in the trace and the decision log.
//
// # Failure behaviour
//
// Config faults fail the load (the previous config stays in force on
// reload). At run time, a condition whose evaluation fails (an absent map
// key, the cost limit exceeded) counts as false, so the next rule and in the
// end the default still route the request; the failure is recorded in the
// trace decision's data under "errors" as "<rule name>: <message>". Errors
// from the chosen subtree are returned as they are: a rules node never tries
// a second route (wrap routes in fallback for that).
//
// # Example
//
//	routes:
//	  auto:
//	    rules:
//	      timezone: America/New_York
//	      rules:
//	        - name: long-or-code
//	          when: 'request.tokens > 1500 || request.has_code'
//	          route: gpt-4
//	        - name: free-tier
//	          when: 'caller.tier == "free"'
//	          route: mixtral
//	        - name: proofs
//	          when: 'matches(request.last_user, "(?i)prove|derive")'
//	          route: {fallback: [gpt-4, mixtral]}
//	        - name: night-batch
//	          when: '(hour >= 22 || hour < 6) && headers[?"x-priority"].orValue("") != "high"'
//	          route: small
//	      default: mixtral
package rules
