package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
)

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// tailCap bounds a latency draw in multiples of P99.
const tailCap = 10

// Latency is a distribution of durations: fixed when P99 equals P50,
// otherwise log-normal with median P50 and 99th percentile P99. Log-normal
// is what measured upstream latencies look like: never negative, most calls
// near the median and a long slow tail.
//
// Draws are capped at tailCap times P99 so that one absurd draw cannot
// stall a load test.
//
// Config writes a fixed duration as "200ms" and a distribution as
// {p50: 200ms, p99: 800ms}; p99 defaults to p50 and must not be below it.
// Neither may exceed an hour.
type Latency struct {
	P50, P99 time.Duration
}

// Sample draws one duration from r.
func (l Latency) Sample(r *rand.Rand) time.Duration {
	if l.P99 <= l.P50 || l.P50 <= 0 {
		return l.P50
	}
	sigma := math.Log(float64(l.P99)/float64(l.P50)) / z99
	d := float64(l.P50) * math.Exp(sigma*r.NormFloat64())
	return time.Duration(min(d, tailCap*float64(l.P99)))
}

func parseLatency(path string, raw json.RawMessage) (Latency, error) {
	if !isObject(raw) {
		var d conf.Duration
		if err := decodeField(path, raw, &d); err != nil {
			return Latency{}, err
		}
		if d.D() > maxLatency {
			return Latency{}, conf.Errorf(path, "must not exceed %v, got %v", maxLatency, d)
		}
		return Latency{P50: d.D(), P99: d.D()}, nil
	}
	var v struct {
		P50 json.RawMessage `json:"p50"`
		P99 json.RawMessage `json:"p99"`
	}
	if err := conf.Decode(path, raw, &v); err != nil {
		return Latency{}, err
	}
	if v.P50 == nil {
		return Latency{}, conf.Errorf(conf.Join(path, "p50"), "required")
	}
	var p50, p99 conf.Duration
	if err := decodeField(conf.Join(path, "p50"), v.P50, &p50); err != nil {
		return Latency{}, err
	}
	p99 = p50
	if v.P99 != nil {
		if err := decodeField(conf.Join(path, "p99"), v.P99, &p99); err != nil {
			return Latency{}, err
		}
	}
	if p99 < p50 {
		return Latency{}, conf.Errorf(conf.Join(path, "p99"), "must not be below p50 (%v), got %v", p50, p99)
	}
	if p99.D() > maxLatency {
		return Latency{}, conf.Errorf(conf.Join(path, "p99"), "must not exceed %v, got %v", maxLatency, p99)
	}
	return Latency{P50: p50.D(), P99: p99.D()}, nil
}

// TokenRange is a uniform distribution of output lengths in tokens, Min to
// Max inclusive. Config writes {min: 20, max: 200}, or one number for a
// fixed length.
type TokenRange struct {
	Min, Max int
}

// maxOutputTokens bounds generated answers.
const maxOutputTokens = 100_000

// Sample draws one length from r.
func (t TokenRange) Sample(r *rand.Rand) int {
	if t.Max <= t.Min {
		return t.Min
	}
	return t.Min + r.IntN(t.Max-t.Min+1)
}

func parseTokenRange(path string, raw json.RawMessage) (TokenRange, error) {
	var t TokenRange
	if !isObject(raw) {
		var n int
		if err := decodeField(path, raw, &n); err != nil {
			return t, err
		}
		t = TokenRange{Min: n, Max: n}
	} else {
		var v struct {
			Min *int `json:"min"`
			Max *int `json:"max"`
		}
		if err := conf.Decode(path, raw, &v); err != nil {
			return t, err
		}
		if v.Min == nil || v.Max == nil {
			return t, conf.Errorf(path, "needs both min and max")
		}
		t = TokenRange{Min: *v.Min, Max: *v.Max}
		if t.Max < t.Min {
			return t, conf.Errorf(conf.Join(path, "max"), "must not be below min (%d), got %d", t.Min, t.Max)
		}
	}
	if t.Min < 1 || t.Max > maxOutputTokens {
		return t, conf.Errorf(path, "token counts must be between 1 and %d", maxOutputTokens)
	}
	return t, nil
}

func isObject(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) > 0 && b[0] == '{'
}

// decodeField decodes one option value at its own path: conf.Decode cannot
// say where an error raised by a value type (conf.Duration) occurred.
func decodeField(path string, raw json.RawMessage, v any) error {
	err := conf.Decode(path, raw, v)
	var ce *conf.Error
	if errors.As(err, &ce) && ce.Path == "" {
		return conf.Errorf(path, "%s", ce.Msg)
	}
	return err
}
