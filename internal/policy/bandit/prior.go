package bandit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// evalEntry is what a `sextant eval` report says of one model or route.
type evalEntry struct {
	quality, costUSD, latencyS float64
}

// evalSummary is the part of a `sextant eval` summary (package eval's
// Summary, flattened into a report and into each baseline) that a prior
// needs.
type evalSummary struct {
	Quality           float64 `json:"quality"`
	Labeled           int     `json:"labeled"`
	CostPerRequestUSD float64 `json:"cost_per_request_usd"`
	LatencyMS         struct {
		Mean float64 `json:"mean"`
	} `json:"latency_ms"`
	ByModel map[string]struct {
		Answered int      `json:"answered"`
		CostUSD  float64  `json:"cost_usd"`
		Quality  *float64 `json:"quality"`
	} `json:"by_model"`
}

type evalReport struct {
	Route string `json:"route"`
	evalSummary
	Baselines []struct {
		Model string `json:"model"`
		evalSummary
	} `json:"baselines"`
}

// maxEvalFile bounds the eval report a prior reads.
const maxEvalFile = 64 << 20

// priorFromEval reads a `sextant eval` JSON report (one report, or a list
// of them) at path and returns what it says of each of names: a baseline
// whose model is the name first (the model answering every record alone),
// else a report whose route is the name, else the name's by_model entry of
// any report (quality and cost per answer, no latency). Entries without
// labeled records are left out.
func priorFromEval(path string, names []string) (map[string]evalEntry, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxEvalFile {
		return nil, fmt.Errorf("%s is %d bytes, more than %d", path, st.Size(), maxEvalFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var reports []evalReport
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		err = json.Unmarshal(data, &reports)
	} else {
		var r evalReport
		err = json.Unmarshal(data, &r)
		reports = []evalReport{r}
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s as a sextant eval report: %v", path, err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	entry := func(s *evalSummary) evalEntry {
		return evalEntry{quality: clamp01(s.Quality), costUSD: max(0, s.CostPerRequestUSD), latencyS: max(0, s.LatencyMS.Mean/1000)}
	}
	out := map[string]evalEntry{}
	// Three passes, most specific first.
	for _, r := range reports {
		for _, b := range r.Baselines {
			if _, done := out[b.Model]; want[b.Model] && !done && b.Labeled > 0 {
				out[b.Model] = entry(&b.evalSummary)
			}
		}
	}
	for _, r := range reports {
		if _, done := out[r.Route]; want[r.Route] && !done && r.Labeled > 0 {
			out[r.Route] = entry(&r.evalSummary)
		}
	}
	for _, r := range reports {
		for name, m := range r.ByModel {
			if _, done := out[name]; want[name] && !done && m.Quality != nil && m.Answered > 0 {
				out[name] = evalEntry{quality: clamp01(*m.Quality), costUSD: max(0, m.CostUSD/float64(m.Answered))}
			}
		}
	}
	return out, nil
}

func clamp01(x float64) float64 {
	if !(x >= 0) {
		return 0
	}
	return min(1, x)
}
