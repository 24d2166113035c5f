package signals

import (
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

// Headroom is the latest rate-limit headroom a model's upstream reported
// (Stats.RateLimit). A count the upstream did not send is -1, and so is a
// share whose limit or remaining count is unknown. Once a window's reset
// time has passed, its remaining count reads as its limit (the window has
// refilled) and its reset as 0.
type Headroom struct {
	// At is when the headers arrived; AgeSeconds is how long ago.
	At                time.Time `json:"at"`
	AgeSeconds        float64   `json:"age_seconds"`
	LimitRequests     int64     `json:"limit_requests"`
	RemainingRequests int64     `json:"remaining_requests"`
	LimitTokens       int64     `json:"limit_tokens"`
	RemainingTokens   int64     `json:"remaining_tokens"`
	// ResetRequestsMS and ResetTokensMS are the time left, from now,
	// until each window refills; 0 when unknown or passed.
	ResetRequestsMS float64 `json:"reset_requests_ms"`
	ResetTokensMS   float64 `json:"reset_tokens_ms"`
	// Shares are remaining/limit in [0, 1], or -1.
	RemainingRequestsShare float64 `json:"remaining_requests_share"`
	RemainingTokensShare   float64 `json:"remaining_tokens_share"`
}

// rateLimit is a model's latest report. m.mu guards it.
type rateLimit struct {
	rl llm.RateLimit
	at time.Time
}

// headroom renders r as seen at now.
func (r rateLimit) headroom(now time.Time) *Headroom {
	age := max(now.Sub(r.at), 0)
	h := &Headroom{At: r.at, AgeSeconds: age.Seconds(),
		LimitRequests: r.rl.LimitRequests, RemainingRequests: r.rl.RemainingRequests,
		LimitTokens: r.rl.LimitTokens, RemainingTokens: r.rl.RemainingTokens}
	h.RemainingRequests, h.ResetRequestsMS = window(h.LimitRequests, h.RemainingRequests, r.rl.ResetRequests, age)
	h.RemainingTokens, h.ResetTokensMS = window(h.LimitTokens, h.RemainingTokens, r.rl.ResetTokens, age)
	h.RemainingRequestsShare = share(h.RemainingRequests, h.LimitRequests)
	h.RemainingTokensShare = share(h.RemainingTokens, h.LimitTokens)
	return h
}

// window returns the remaining count and the milliseconds to its reset,
// age after the report: a window whose reset has passed is full again.
func window(limit, remaining int64, reset, age time.Duration) (int64, float64) {
	if reset <= 0 {
		return remaining, 0
	}
	if age >= reset {
		if limit >= 0 {
			remaining = limit
		}
		return remaining, 0
	}
	return remaining, ms(reset - age)
}

func share(remaining, limit int64) float64 {
	if remaining < 0 || limit <= 0 {
		return -1
	}
	return min(float64(remaining)/float64(limit), 1)
}
