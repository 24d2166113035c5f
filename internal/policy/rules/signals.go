package rules

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/load"
	"github.com/sextant-router/sextant/internal/signals"
)

// signalNames are the metrics model_signal reads, from signals.Stats. The
// ratelimit_ ones read the upstream's latest rate-limit headroom and are
// -1 while it is unknown (no report yet, or a header the upstream does not
// send), so a rule should test them with >= 0 first.
var signalNames = map[string]func(signals.Stats) float64{
	"latency_p50_ms":                     func(s signals.Stats) float64 { return s.LatencyP50MS },
	"latency_p95_ms":                     func(s signals.Stats) float64 { return s.LatencyP95MS },
	"latency_p99_ms":                     func(s signals.Stats) float64 { return s.LatencyP99MS },
	"latency_ewma_ms":                    func(s signals.Stats) float64 { return s.LatencyEWMAMS },
	"ttft_p50_ms":                        func(s signals.Stats) float64 { return s.TTFTP50MS },
	"ttft_p95_ms":                        func(s signals.Stats) float64 { return s.TTFTP95MS },
	"error_rate":                         func(s signals.Stats) float64 { return s.ErrorRate },
	"requests":                           func(s signals.Stats) float64 { return float64(s.Requests) },
	"in_flight":                          func(s signals.Stats) float64 { return float64(s.InFlight) },
	"tokens_per_second":                  func(s signals.Stats) float64 { return s.TokensPerSecond },
	"spend_usd":                          func(s signals.Stats) float64 { return s.SpendUSD },
	"ratelimit_remaining_requests":       headroom(func(h *signals.Headroom) float64 { return float64(h.RemainingRequests) }),
	"ratelimit_remaining_tokens":         headroom(func(h *signals.Headroom) float64 { return float64(h.RemainingTokens) }),
	"ratelimit_remaining_requests_share": headroom(func(h *signals.Headroom) float64 { return h.RemainingRequestsShare }),
	"ratelimit_remaining_tokens_share":   headroom(func(h *signals.Headroom) float64 { return h.RemainingTokensShare }),
}

// signalOptions declare the live-signal functions and the load variable.
func signalOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Variable("load", cel.IntType),
		cel.Function("model_signal",
			cel.Overload("model_signal_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.DoubleType,
				cel.BinaryBinding(func(model, metric ref.Val) ref.Val {
					m, ok1 := model.(types.String)
					n, ok2 := metric.(types.String)
					if !ok1 || !ok2 {
						return types.MaybeNoSuchOverloadErr(model)
					}
					f, ok := signalNames[string(n)]
					if !ok {
						return types.NewErr("model_signal: unknown signal %q", string(n))
					}
					return types.Double(f(signals.Default.Stats(string(m))))
				}))),
		cel.Function("model_healthy",
			cel.Overload("model_healthy_string", []*cel.Type{cel.StringType}, cel.BoolType,
				cel.UnaryBinding(func(model ref.Val) ref.Val {
					m, ok := model.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(model)
					}
					return types.Bool(health.Default.Healthy(string(m)))
				}))),
	}
}

// headroom reads f of the rate-limit headroom, or -1 before any report.
func headroom(f func(*signals.Headroom) float64) func(signals.Stats) float64 {
	return func(s signals.Stats) float64 {
		if s.RateLimit == nil {
			return -1
		}
		return f(s.RateLimit)
	}
}

func loadLevel() ref.Val { return types.Int(load.Default.Level()) }
