package llm

import "time"

// RateLimit is the headroom an upstream reported in its rate-limit headers
// on one response: how many requests and tokens its current windows allow
// and have left, and how long until each window resets.
//
// The zero value is "not reported" (Known false). When Known is true, a
// count the upstream did not send is -1 and a reset it did not send is 0.
type RateLimit struct {
	Known             bool
	LimitRequests     int64
	RemainingRequests int64
	LimitTokens       int64
	RemainingTokens   int64
	// ResetRequests and ResetTokens are the waits, from when the
	// response arrived, until the windows refill.
	ResetRequests time.Duration
	ResetTokens   time.Duration
}

// RateLimitReporter is implemented by streams whose upstream reported
// rate-limit headers. The headers arrive before the first chunk, so
// RateLimit may be called as soon as the stream is returned; it returns
// the zero RateLimit when the upstream sent none.
type RateLimitReporter interface {
	RateLimit() RateLimit
}
