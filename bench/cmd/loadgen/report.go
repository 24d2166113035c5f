package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/sextant-router/sextant/bench/load"
)

// Point kinds.
const (
	kindFixed = "fixed" // open loop at a fixed rate
	kindMax   = "max"   // closed loop, maximum throughput
	kindFlush = "flush" // paced streams, flush check
)

// point is one measurement.
type point struct {
	Kind   string    `json:"kind"`
	Target string    `json:"target"`
	Mode   load.Mode `json:"mode"`
	Rate   int       `json:"rate,omitempty"` // requests per second asked for (fixed and flush)
	load.Summary
	// AddedP50 and AddedP99 are this target's percentile less the
	// upstream's at the same mode and rate, in milliseconds.
	AddedP50 *float64 `json:"added_p50_ms,omitempty"`
	AddedP99 *float64 `json:"added_p99_ms,omitempty"`
	// ProxyRatio is AddedP50 over the reverse proxy's (fixed), or RPS
	// over the reverse proxy's (max).
	ProxyRatio *float64 `json:"proxy_ratio,omitempty"`
	// GatewayCPUPerReq is the CPU time the proxy or Sextant process
	// spent per request, in microseconds.
	GatewayCPUPerReq float64 `json:"gateway_cpu_us_per_req,omitempty"`
	// UpstreamConns is how many connections the mock accepted during the
	// point: with keep-alive working, about as many as were ever open at
	// once, not one per request.
	UpstreamConns int64       `json:"upstream_conns"`
	Flush         *load.Flush `json:"flush,omitempty"`
}

// verdict is one target of the issue, checked.
type verdict struct {
	Check  string `json:"check"`
	Target string `json:"target"`
	Mode   string `json:"mode"`
	Value  string `json:"value"`
	Pass   bool   `json:"pass"`
}

// results is everything one run measured.
type results struct {
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	GoVersion string    `json:"go_version"`
	NumCPU    int       `json:"num_cpu"`
	LoadStart string    `json:"loadavg_start"`
	LoadEnd   string    `json:"loadavg_end"`
	Settings  settings  `json:"settings"`
	Points    []point   `json:"points"`
	Verdicts  []verdict `json:"verdicts"`
	// Profiles are the pprof files written next to the results.
	Profiles []string `json:"profiles,omitempty"`
}

func (r *results) find(kind, target string, m load.Mode, rate int) *point {
	for i := range r.Points {
		p := &r.Points[i]
		if p.Kind == kind && p.Target == target && p.Mode == m && p.Rate == rate {
			return p
		}
	}
	return nil
}

// derive fills the added latencies, the ratios and the verdicts.
func (r *results) derive() {
	for i := range r.Points {
		p := &r.Points[i]
		switch p.Kind {
		case kindFixed:
			base := r.find(kindFixed, tUpstream, p.Mode, p.Rate)
			if base == nil || p.Target == tUpstream || p.OK == 0 {
				continue
			}
			a50, a99 := p.P50-base.P50, p.P99-base.P99
			p.AddedP50, p.AddedP99 = &a50, &a99
		case kindMax:
			if px := r.find(kindMax, tProxy, p.Mode, 0); px != nil && px.RPS > 0 && p.Target != tUpstream {
				ratio := p.RPS / px.RPS
				p.ProxyRatio = &ratio
			}
		}
	}
	for i := range r.Points {
		p := &r.Points[i]
		if p.Kind != kindFixed || p.AddedP50 == nil || p.Target == tProxy {
			continue
		}
		if px := r.find(kindFixed, tProxy, p.Mode, p.Rate); px != nil && px.AddedP50 != nil && *px.AddedP50 > 0 {
			ratio := *p.AddedP50 / *px.AddedP50
			p.ProxyRatio = &ratio
		}
	}

	for _, m := range r.Settings.Modes {
		for _, t := range []string{tModel, tRules} {
			if p := r.find(kindFixed, t, m, 1000); p != nil {
				v := verdict{Check: "added p50 at 1,000 rps ≤ 1.5× the reverse proxy's", Target: t, Mode: string(m)}
				if p.ProxyRatio != nil {
					v.Value = fmt.Sprintf("%.2f× (%.3f ms vs %.3f ms)", *p.ProxyRatio, *p.AddedP50, *r.find(kindFixed, tProxy, m, 1000).AddedP50)
					v.Pass = *p.ProxyRatio <= 1.5 && p.Errors == 0
				} else {
					v.Value = "n/a (no proxy baseline)"
				}
				r.Verdicts = append(r.Verdicts, v)
				r.Verdicts = append(r.Verdicts, verdict{Check: "p99 at 1,000 rps < 5 ms", Target: t, Mode: string(m),
					Value: fmt.Sprintf("%.3f ms", p.P99), Pass: p.P99 < 5 && p.Errors == 0})
			}
			if p := r.find(kindMax, t, m, 0); p != nil {
				v := verdict{Check: "max throughput ≥ 70% of the reverse proxy's", Target: t, Mode: string(m)}
				if p.ProxyRatio != nil {
					v.Value = fmt.Sprintf("%.0f%% (%.0f vs %.0f rps)", 100**p.ProxyRatio, p.RPS, r.find(kindMax, tProxy, m, 0).RPS)
					v.Pass = *p.ProxyRatio >= 0.7
				}
				r.Verdicts = append(r.Verdicts, v)
			}
		}
	}
	if p := r.find(kindFlush, tModel, load.Stream, r.Settings.FlushRate); p != nil && p.Flush != nil {
		r.Verdicts = append(r.Verdicts, verdict{Check: "streamed chunks flushed as they arrive", Target: "sextant", Mode: "stream",
			Value: fmt.Sprintf("gap p10 %.2f ms, p50 %.2f ms (pace %s); %.0f%% of %d streams fully spread", p.Flush.GapP10, p.Flush.GapP50, r.Settings.Pace, 100*p.Flush.Spread, p.Flush.Streams),
			Pass:  p.Flush.Flushed && p.Errors == 0})
	}
}

// markdown renders the results as Markdown tables.
func (r *results) markdown() string {
	var b strings.Builder
	s := r.Settings
	fmt.Fprintf(&b, "# Sextant overhead benchmark\n\n")
	fmt.Fprintf(&b, "%s, %s, %d CPUs, load average %s at start and %s at end. ", r.Started.Format(time.RFC3339), r.GoVersion, r.NumCPU, r.LoadStart, r.LoadEnd)
	fmt.Fprintf(&b, "Fixed-rate points: %s measured after %s warm-up, %d round(s); max throughput: %d workers for %s; upstream latency %s.\n\n",
		s.Duration, s.Warmup, s.Rounds, s.Workers, s.MaxDuration, s.Latency)

	b.WriteString("## Latency at fixed rates (open loop)\n\n")
	b.WriteString("Milliseconds, from each request's scheduled send time to the end of its body. *added* is the target's percentile less the upstream's at the same rate; *× proxy* is the target's added p50 over the reverse proxy's. *first* is time to the first stream event. *CPU/req* is the gateway process's CPU per request; *conns* the connections the upstream accepted during the point.\n\n")
	b.WriteString("| target | mode | rate | achieved | errors | p50 | p90 | p99 | first p50 | added p50 | added p99 | × proxy | CPU/req µs | conns |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.Points {
		if p.Kind != kindFixed {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %d | %.3f | %.3f | %.3f | %s | %s | %s | %s | %s | %d |\n",
			p.Target, p.Mode, p.Rate, p.RPS, p.Errors, p.P50, p.P90, p.P99, firstCol(p), optMS(p.AddedP50), optMS(p.AddedP99),
			optRatio(p.ProxyRatio), cpuCol(p), p.UpstreamConns)
	}

	b.WriteString("\n## Maximum throughput (closed loop)\n\n")
	b.WriteString("| target | mode | rps | % of proxy | errors | p50 ms | p99 ms | CPU/req µs | conns |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.Points {
		if p.Kind != kindMax {
			continue
		}
		pct := "—"
		if p.ProxyRatio != nil {
			pct = fmt.Sprintf("%.0f%%", 100**p.ProxyRatio)
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %d | %.3f | %.3f | %s | %d |\n",
			p.Target, p.Mode, p.RPS, pct, p.Errors, p.P50, p.P99, cpuCol(p), p.UpstreamConns)
	}

	b.WriteString("\n## Stream flushing\n\n")
	fmt.Fprintf(&b, "The mock sends each event of model \"paced\" %s after the previous one; a gateway that flushes as chunks arrive keeps those gaps. *flushed* means the 10th-percentile gap is at least half the pace (buffering, even of every other chunk, drives it to about zero); *spread* is the share of streams in which every gap stayed at least half the pace, which client-side scheduling noise on a busy machine keeps a little under 100%% even for the upstream itself.\n\n", s.Pace)
	b.WriteString("| target | streams | errors | gap p10 ms | gap p50 ms | spread | first p50 ms | total p50 ms | flushed |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, p := range r.Points {
		if p.Kind != kindFlush || p.Flush == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %.2f | %.0f%% | %.2f | %.2f | %s |\n",
			p.Target, p.Flush.Streams, p.Errors, p.Flush.GapP10, p.Flush.GapP50, 100*p.Flush.Spread, p.FirstP50, p.P50, yesNo(p.Flush.Flushed))
	}

	b.WriteString("\n## Targets\n\n| check | target | mode | value | verdict |\n|---|---|---|---|---|\n")
	for _, v := range r.Verdicts {
		verdict := "met"
		if !v.Pass {
			verdict = "**missed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", v.Check, v.Target, v.Mode, v.Value, verdict)
	}
	for _, p := range r.Points {
		if p.Errors > 0 {
			fmt.Fprintf(&b, "\n%s %s %s %d: %d errors, first: %s\n", p.Kind, p.Target, p.Mode, p.Rate, p.Errors, p.FirstError)
		}
	}
	return b.String()
}

func firstCol(p point) string {
	if p.Mode != load.Stream {
		return "—"
	}
	return fmt.Sprintf("%.3f", p.FirstP50)
}

func cpuCol(p point) string {
	if p.GatewayCPUPerReq == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f", p.GatewayCPUPerReq)
}

func optMS(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%+.3f", *v)
}

func optRatio(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f", *v)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}
