package gateway

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/state"
	"github.com/sextant-router/sextant/internal/tokens"
)

// HeaderDowngraded names the route a request was moved to because its
// key's budget is nearly spent.
const HeaderDowngraded = "X-Sextant-Downgraded"

// counters are where keys' requests, tokens and spend are counted; tests
// swap them.
var counters = state.DefaultCounters

func keyOf(snap *config.Snapshot, name string) (config.Key, bool) {
	if name == "" || snap.File == nil {
		return config.Key{}, false
	}
	for _, k := range snap.File.Keys {
		if k.Name == name {
			return k, true
		}
	}
	return config.Key{}, false
}

// admit enforces the caller's key: allowed routes, requests and tokens per
// minute, and budgets, downgrading req.Model to the key's downgrade route
// once a budget is nearly spent. It returns the error to send, with
// Retry-After set on h, or nil. A request it admits is counted against
// the request rate at once; tokens and spend are counted by account.
func admit(h http.Header, snap *config.Snapshot, c policy.Caller, req *llm.Request) *llm.Error {
	k, ok := keyOf(snap, c.Key)
	if !ok {
		return nil
	}
	if len(k.Routes) > 0 && !slices.Contains(k.Routes, req.Model) {
		return &llm.Error{Status: http.StatusForbidden, Type: llm.TypeInvalidRequest, Code: "model_not_allowed", Param: "model",
			Message: fmt.Sprintf("key %q may not use %q; it may use %v", k.Name, req.Model, k.Routes), Class: llm.ClassCaller}
	}
	l, cs, now := k.Limits, counters(), time.Now()
	limited := func(code, msg string, end time.Time) *llm.Error {
		secs := int(math.Ceil(end.Sub(now).Seconds()))
		h.Set("Retry-After", strconv.Itoa(max(secs, 1)))
		return &llm.Error{Status: http.StatusTooManyRequests, Type: llm.TypeRateLimit, Code: code,
			Message: msg, Class: llm.ClassRateLimit, RetryAfter: end.Sub(now)}
	}
	for _, b := range []struct {
		limit  float64
		p      state.Period
		period string
	}{{l.DailyUSD, state.Day, "daily"}, {l.MonthlyUSD, state.Month, "monthly"}} {
		if b.limit <= 0 {
			continue
		}
		spent, end := cs.Get("usd:"+k.Name, b.p)
		usd := float64(spent) / 1e6
		if usd >= b.limit {
			return limited("budget_exceeded", fmt.Sprintf("key %q has spent its %s budget of $%.2f ($%.4f); it renews at %s",
				k.Name, b.period, b.limit, usd, end.Format(time.RFC3339)), end)
		}
		at := l.DowngradeAt
		if at == 0 {
			at = 0.8
		}
		if l.Downgrade != "" && usd >= at*b.limit && req.Model != l.Downgrade {
			h.Set(HeaderDowngraded, l.Downgrade)
			req.Model = l.Downgrade
		}
	}
	if l.TokensPerMinute > 0 {
		used, end := cs.Get("tok:"+k.Name, state.Minute)
		if used+int64(tokens.Prompt(req)) > int64(l.TokensPerMinute) {
			return limited("rate_limit_exceeded", fmt.Sprintf("key %q is limited to %d tokens per minute and has used %d",
				k.Name, l.TokensPerMinute, used), end)
		}
	}
	if l.RequestsPerMinute > 0 {
		n, end := cs.Add("req:"+k.Name, state.Minute, 1)
		if n > int64(l.RequestsPerMinute) {
			return limited("rate_limit_exceeded", fmt.Sprintf("key %q is limited to %d requests per minute",
				k.Name, l.RequestsPerMinute), end)
		}
	}
	return nil
}

// account counts a finished request's tokens and spend against its key.
func account(snap *config.Snapshot, c policy.Caller, x *engine.Exchange) {
	k, ok := keyOf(snap, c.Key)
	if !ok {
		return
	}
	l := k.Limits
	if l.TokensPerMinute == 0 && l.DailyUSD == 0 && l.MonthlyUSD == 0 {
		return
	}
	u, cost := x.Totals()
	cs := counters()
	if l.TokensPerMinute > 0 && u.TotalTokens > 0 {
		cs.Add("tok:"+k.Name, state.Minute, int64(u.TotalTokens))
	}
	if cost > 0 {
		if l.DailyUSD > 0 {
			cs.Add("usd:"+k.Name, state.Day, int64(cost))
		}
		if l.MonthlyUSD > 0 {
			cs.Add("usd:"+k.Name, state.Month, int64(cost))
		}
	}
}
