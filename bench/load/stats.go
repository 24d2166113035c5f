package load

import (
	"slices"
	"time"
)

// Summary describes a set of samples.
type Summary struct {
	OK     int     `json:"ok"`
	Errors int     `json:"errors"`
	RPS    float64 `json:"rps"` // answered requests per second of the measured time
	// Latency percentiles of the whole answer, in milliseconds.
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
	// Time to the first stream event, in milliseconds (streams only).
	FirstP50 float64 `json:"first_p50_ms,omitempty"`
	FirstP99 float64 `json:"first_p99_ms,omitempty"`
	// LagP99 is the 99th percentile of how late open-loop requests were
	// sent, in milliseconds: the load generator's own delay.
	LagP99 float64 `json:"lag_p99_ms"`
	// FirstError is the first error seen, if any.
	FirstError string `json:"first_error,omitempty"`
}

// Summarize computes a Summary of samples gathered over measured.
func Summarize(samples []Sample, measured time.Duration) Summary {
	var s Summary
	total := make([]time.Duration, 0, len(samples))
	first := make([]time.Duration, 0, len(samples))
	lag := make([]time.Duration, 0, len(samples))
	for _, x := range samples {
		lag = append(lag, x.Lag)
		if x.Err != nil {
			s.Errors++
			if s.FirstError == "" {
				s.FirstError = x.Err.Error()
			}
			continue
		}
		s.OK++
		total = append(total, x.Total)
		if x.First > 0 {
			first = append(first, x.First)
		}
	}
	if measured > 0 {
		s.RPS = float64(s.OK) / measured.Seconds()
	}
	slices.Sort(total)
	slices.Sort(first)
	slices.Sort(lag)
	s.LagP99 = ms(Percentile(lag, 99))
	s.P50, s.P90, s.P99 = ms(Percentile(total, 50)), ms(Percentile(total, 90)), ms(Percentile(total, 99))
	if len(total) > 0 {
		s.Max = ms(total[len(total)-1])
	}
	if len(first) > 0 {
		s.FirstP50, s.FirstP99 = ms(Percentile(first, 50)), ms(Percentile(first, 99))
	}
	return s
}

// Percentile returns the p-th percentile (nearest rank) of sorted, or 0
// when it is empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// Flush summarizes the inter-event gaps of paced streams: whether each
// chunk reached the client when the upstream sent it, pace apart, or
// several arrived together because something in between buffered them.
type Flush struct {
	Streams int `json:"streams"`
	// GapP10 and GapP50 are percentiles of the gaps between consecutive
	// events, in milliseconds; with every chunk flushed both are about
	// the pace.
	GapP10 float64 `json:"gap_p10_ms"`
	GapP50 float64 `json:"gap_p50_ms"`
	// Spread is the share of streams in which every gap was at least
	// half the pace. On a busy machine the client itself sometimes reads
	// two events at once, so a few streams fall short even when nothing
	// buffers.
	Spread float64 `json:"spread"`
	// Flushed is the verdict: the 10th percentile gap is at least half
	// the pace. Anything that holds chunks back, even every other one,
	// makes a share of the gaps near zero and fails it.
	Flushed bool `json:"flushed"`
}

// SummarizeFlush judges samples taken with KeepGaps from streams paced
// pace apart.
func SummarizeFlush(samples []Sample, pace time.Duration) Flush {
	var f Flush
	var gaps []time.Duration
	spread := 0
	for _, x := range samples {
		if x.Err != nil || len(x.Gaps) == 0 {
			continue
		}
		f.Streams++
		ok := true
		for _, g := range x.Gaps {
			gaps = append(gaps, g)
			if g < pace/2 {
				ok = false
			}
		}
		if ok {
			spread++
		}
	}
	slices.Sort(gaps)
	f.GapP10, f.GapP50 = ms(Percentile(gaps, 10)), ms(Percentile(gaps, 50))
	if f.Streams > 0 {
		f.Spread = float64(spread) / float64(f.Streams)
	}
	f.Flushed = f.Streams > 0 && Percentile(gaps, 10) >= pace/2
	return f
}
