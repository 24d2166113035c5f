package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/load"
	"github.com/sextant-router/sextant/internal/policy"
)

// Threshold is the score an answer must reach to pass a gate. It is fixed
// or adapts to the caller's tier and to the load of this process:
//
//	threshold: 0.7
//	threshold: {default: 0.7, tiers: {premium: 0.85, free: 0.6}, peak: 0.5, peak_load: 64}
//
// For a call the threshold is peak while the requests in flight in this
// process (load.Default) are at least peak_load; otherwise the caller's
// tier's value, or default for a tier not listed (and for callers
// without a tier). Every value is in [0,1]; peak and peak_load come
// together; default is required in the mapping form. The zero Threshold
// is 0 for everyone. A Threshold is immutable once decoded.
type Threshold struct {
	Default  float64
	Tiers    map[string]float64
	Peak     float64
	PeakLoad int64 // 0: no peak threshold
}

// Fixed returns the threshold v for every call.
func Fixed(v float64) *Threshold { return &Threshold{Default: v} }

// At returns the threshold for a caller of tier while inflight requests
// are in flight.
func (t *Threshold) At(tier string, inflight int64) float64 {
	if t == nil {
		return 0
	}
	if t.PeakLoad > 0 && inflight >= t.PeakLoad {
		return t.Peak
	}
	if v, ok := t.Tiers[tier]; ok && tier != "" {
		return v
	}
	return t.Default
}

// For returns the threshold for call c now: c's tier and the current load
// of this process.
func (t *Threshold) For(c *policy.Call) float64 {
	tier := ""
	if c != nil {
		tier = c.Caller.Tier
	}
	return t.At(tier, load.Default.Level())
}

// String renders the threshold for messages and docs.
func (t *Threshold) String() string {
	if t == nil {
		return "0"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%g", t.Default)
	tiers := make([]string, 0, len(t.Tiers))
	for k := range t.Tiers {
		tiers = append(tiers, k)
	}
	sort.Strings(tiers)
	for _, k := range tiers {
		fmt.Fprintf(&b, ", %s %g", k, t.Tiers[k])
	}
	if t.PeakLoad > 0 {
		fmt.Fprintf(&b, ", %g at %d in flight", t.Peak, t.PeakLoad)
	}
	return b.String()
}

type thresholdConfig struct {
	Default  *float64           `json:"default"`
	Tiers    map[string]float64 `json:"tiers"`
	Peak     *float64           `json:"peak"`
	PeakLoad *int64             `json:"peak_load"`
}

// UnmarshalJSON reads a number or the mapping form. Errors are
// *conf.Error values whose path is relative to the threshold.
func (t *Threshold) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var v float64
		if err := json.Unmarshal(b, &v); err != nil {
			return &conf.Error{Msg: fmt.Sprintf("expected a number in [0,1] or a mapping {default, tiers, peak, peak_load}, got %s", b)}
		}
		if err := check01("", v); err != nil {
			return err
		}
		*t = Threshold{Default: v}
		return nil
	}
	var cfg thresholdConfig
	if err := conf.Decode("", b, &cfg); err != nil {
		return err
	}
	if cfg.Default == nil {
		return conf.Errorf("default", "required: the threshold for callers without a listed tier")
	}
	out := Threshold{Default: *cfg.Default}
	if err := check01("default", out.Default); err != nil {
		return err
	}
	for tier, v := range cfg.Tiers {
		p := conf.Join("tiers", tier)
		if strings.TrimSpace(tier) == "" {
			return conf.Errorf("tiers", "a tier name must not be empty")
		}
		if err := check01(p, v); err != nil {
			return err
		}
	}
	if len(cfg.Tiers) > 0 {
		out.Tiers = cfg.Tiers
	}
	switch {
	case cfg.Peak != nil && cfg.PeakLoad == nil:
		return conf.Errorf("peak_load", "required with peak: the requests in flight at or above which peak applies")
	case cfg.Peak == nil && cfg.PeakLoad != nil:
		return conf.Errorf("peak", "required with peak_load: the threshold under peak load")
	case cfg.Peak != nil:
		if err := check01("peak", *cfg.Peak); err != nil {
			return err
		}
		if *cfg.PeakLoad < 1 {
			return conf.Errorf("peak_load", "must be at least 1, got %d", *cfg.PeakLoad)
		}
		out.Peak, out.PeakLoad = *cfg.Peak, *cfg.PeakLoad
	}
	*t = out
	return nil
}

func check01(path string, v float64) error {
	if !(v >= 0 && v <= 1) {
		return conf.Errorf(path, "must be in [0,1], got %v", v)
	}
	return nil
}
