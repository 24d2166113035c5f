package learn

import (
	"fmt"
	"io"
	"math"
	"sort"
)

// Metrics measure predicted probabilities against outcomes.
//
// For a classifier, Accuracy is the share of samples whose most probable
// class is right, LogLoss the mean -ln P(true class), Brier the mean
// squared error of the probability vector against the one-hot truth
// (summed over classes), and calibration is measured on the top class's
// probability. For winrate and gate they are computed over every (sample,
// label) pair with a known outcome, with the prediction P(good) > 0.5;
// PerLabel repeats them for each label.
type Metrics struct {
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
	LogLoss  float64 `json:"log_loss"`
	Brier    float64 `json:"brier"`
	// ECE is the expected calibration error over 10 equal-width bins: the
	// mean over samples of |bin's mean probability - bin's outcome rate|.
	ECE float64 `json:"ece"`
	// AUC is the probability that a good outcome scores above a bad one
	// (winrate and gate; 0 when either is absent).
	AUC float64 `json:"auc,omitempty"`
	// Reliability is the reliability table behind ECE (empty bins left
	// out).
	Reliability []Bin               `json:"reliability,omitempty"`
	PerLabel    map[string]*Metrics `json:"per_label,omitempty"`
}

// Bin is one row of a reliability table: predictions in [Lo,Hi), their
// count, mean and the observed rate of good outcomes (or of a right top
// class).
type Bin struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	N     int     `json:"n"`
	MeanP float64 `json:"mean_p"`
	Rate  float64 `json:"rate"`
}

const nBins = 10

// binaryMetrics measures probabilities p of outcomes y (0 or 1).
func binaryMetrics(p, y []float64) *Metrics {
	m := &Metrics{N: len(p)}
	if len(p) == 0 {
		return m
	}
	for i := range p {
		pi := min(1-probFloor, max(probFloor, p[i]))
		if (pi > 0.5) == (y[i] > 0.5) {
			m.Accuracy++
		}
		if y[i] > 0.5 {
			m.LogLoss -= math.Log(pi)
		} else {
			m.LogLoss -= math.Log(1 - pi)
		}
		m.Brier += (p[i] - y[i]) * (p[i] - y[i])
	}
	n := float64(len(p))
	m.Accuracy /= n
	m.LogLoss /= n
	m.Brier /= n
	m.ECE, m.Reliability = reliability(p, y)
	m.AUC = auc(p, y)
	return m
}

// reliability bins (p, hit) pairs and returns the ECE and the table.
func reliability(p, hit []float64) (float64, []Bin) {
	var bins [nBins]Bin
	for i := range bins {
		bins[i].Lo, bins[i].Hi = float64(i)/nBins, float64(i+1)/nBins
	}
	for i := range p {
		k := min(nBins-1, max(0, int(p[i]*nBins)))
		bins[k].N++
		bins[k].MeanP += p[i]
		bins[k].Rate += hit[i]
	}
	var out []Bin
	ece := 0.0
	for _, b := range bins {
		if b.N == 0 {
			continue
		}
		b.MeanP /= float64(b.N)
		b.Rate /= float64(b.N)
		ece += float64(b.N) * math.Abs(b.MeanP-b.Rate)
		out = append(out, b)
	}
	return ece / float64(len(p)), out
}

// auc is the Mann-Whitney statistic, ties counting half.
func auc(p, y []float64) float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // mean 1-based rank of the tie group
		for k := i; k < j; k++ {
			if y[idx[k]] > 0.5 {
				pos++
				rankSum += rank
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return 0
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// classMetrics measures distributions p (one per sample) against classes y.
func classMetrics(p [][]float64, y []int) *Metrics {
	m := &Metrics{N: len(p)}
	if len(p) == 0 {
		return m
	}
	top := make([]float64, len(p))
	hit := make([]float64, len(p))
	for i, d := range p {
		best := 0
		for c := range d {
			if d[c] > d[best] {
				best = c
			}
			t := 0.0
			if c == y[i] {
				t = 1
			}
			m.Brier += (d[c] - t) * (d[c] - t)
		}
		top[i] = d[best]
		if best == y[i] {
			m.Accuracy++
			hit[i] = 1
		}
		m.LogLoss -= math.Log(max(probFloor, d[y[i]]))
	}
	n := float64(len(p))
	m.Accuracy /= n
	m.LogLoss /= n
	m.Brier /= n
	m.ECE, m.Reliability = reliability(top, hit)
	return m
}

// WriteMetrics prints m as a short text report: the headline numbers, the
// per-label ones and the reliability table.
func WriteMetrics(w io.Writer, title string, m *Metrics) {
	if m == nil {
		return
	}
	fmt.Fprintf(w, "%s: n=%d accuracy=%.4f log_loss=%.4f brier=%.4f ece=%.4f", title, m.N, m.Accuracy, m.LogLoss, m.Brier, m.ECE)
	if m.AUC > 0 {
		fmt.Fprintf(w, " auc=%.4f", m.AUC)
	}
	fmt.Fprintln(w)
	labels := make([]string, 0, len(m.PerLabel))
	for l := range m.PerLabel {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		p := m.PerLabel[l]
		fmt.Fprintf(w, "  %-40s n=%d accuracy=%.4f log_loss=%.4f brier=%.4f ece=%.4f auc=%.4f\n", l, p.N, p.Accuracy, p.LogLoss, p.Brier, p.ECE, p.AUC)
	}
	if len(m.Reliability) > 0 {
		fmt.Fprintln(w, "  reliability:   bin        n   mean_p   observed")
		for _, b := range m.Reliability {
			fmt.Fprintf(w, "               [%.1f,%.1f) %5d   %.3f    %.3f\n", b.Lo, b.Hi, b.N, b.MeanP, b.Rate)
		}
	}
}
