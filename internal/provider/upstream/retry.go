package upstream

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps every wait an upstream asks for.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads Retry-After: seconds (fractions allowed) or an HTTP
// date, taken relative to now. It returns 0 when the header is absent or
// unusable and caps the wait at MaxRetryAfter.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if d, ok := parseWait(v, time.Second); ok {
		return d
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), MaxRetryAfter)
	}
	return 0
}

// RetryAfterMs reads retry-after-ms (OpenAI's, in milliseconds). ok is
// false when it is absent or unusable; the wait is capped at MaxRetryAfter.
func RetryAfterMs(h http.Header) (d time.Duration, ok bool) {
	return parseWait(h.Get("Retry-After-Ms"), time.Millisecond)
}

// parseWait reads a non-negative number of units.
func parseWait(v string, unit time.Duration) (time.Duration, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0, false
	}
	if f*float64(unit) >= float64(MaxRetryAfter) {
		return MaxRetryAfter, true
	}
	return time.Duration(f * float64(unit)), true
}
