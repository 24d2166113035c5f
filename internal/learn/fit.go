package learn

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
)

// design is a featurized training set: one sparse row per sample over a
// compact feature space (the hash buckets or vector components that
// occur, then the numeric features), with targets.
type design struct {
	kind    string
	input   string
	L       int
	D       int // features: nText, then the numeric ones
	nText   int
	rows    []drow
	y       []float64 // N×L outcomes (classifier: one-hot)
	known   []bool    // N×L: is the outcome known
	cls     []int     // N: class (classifier)
	buckets []uint32  // compact text feature → bucket
	cat     []int32   // N: category index, -1 for none
	nCat    int
	mix     float64 // TrainOptions.CategoryMix
	numeric []NumericStat
	feat    Featurizer
	dim     int
}

type drow struct {
	idx []int32
	val []float32
}

func buildDesign(kind string, labels []string, input string, dim int, samples []Sample, o *TrainOptions) *design {
	d := &design{kind: kind, input: input, L: len(labels), feat: o.Featurizer, dim: dim}
	n := len(samples)
	d.rows = make([]drow, n)
	// Text: featurize in parallel, then compact the buckets that occur.
	if input == InputText {
		sp := make([]sparse, n)
		parallel(n, o.Workers, func(i int) { sp[i] = o.Featurizer.featurize(samples[i].X.Text) })
		compact := map[uint32]int32{}
		for i := range sp {
			for _, b := range sp[i].idx {
				if _, ok := compact[b]; !ok {
					compact[b] = 0
				}
			}
		}
		d.buckets = make([]uint32, 0, len(compact))
		for b := range compact {
			d.buckets = append(d.buckets, b)
		}
		slices.Sort(d.buckets)
		for j, b := range d.buckets {
			compact[b] = int32(j)
		}
		d.nText = len(d.buckets)
		for i := range sp {
			r := drow{idx: make([]int32, len(sp[i].idx)), val: sp[i].val}
			for k, b := range sp[i].idx {
				r.idx[k] = compact[b]
			}
			d.rows[i] = r
		}
	} else {
		d.nText = dim
		for i := range samples {
			r := drow{idx: make([]int32, dim), val: slices.Clone(samples[i].X.Vector)}
			for k := range r.idx {
				r.idx[k] = int32(k)
			}
			d.rows[i] = r
		}
	}
	// Numeric features, standardised; constant ones are dropped.
	names := o.Numeric
	if names == nil {
		seen := map[string]bool{}
		for i := range samples {
			for k := range samples[i].X.Numeric {
				seen[k] = true
			}
		}
		for k := range seen {
			names = append(names, k)
		}
		sort.Strings(names)
	}
	for _, name := range names {
		var sum, sq, cnt float64
		for i := range samples {
			if v, ok := samples[i].X.Numeric[name]; ok && finite(v) {
				sum += v
				sq += v * v
				cnt++
			}
		}
		if cnt == 0 {
			continue
		}
		mean := sum / cnt
		std := math.Sqrt(math.Max(0, sq/cnt-mean*mean))
		if std < 1e-9 {
			continue
		}
		d.numeric = append(d.numeric, NumericStat{Name: name, Mean: mean, Std: std})
	}
	for j, ns := range d.numeric {
		col := int32(d.nText + j)
		for i := range samples {
			if v, ok := samples[i].X.Numeric[ns.Name]; ok && finite(v) {
				d.rows[i].idx = append(d.rows[i].idx, col)
				d.rows[i].val = append(d.rows[i].val, float32((v-ns.Mean)/ns.Std))
			}
		}
	}
	d.D = d.nText + len(d.numeric)
	// Targets: one-hot classes, or the known outcomes.
	d.y = make([]float64, n*d.L)
	d.known = make([]bool, n*d.L)
	if kind == KindClassifier {
		d.cls = make([]int, n)
		for i := range samples {
			d.cls[i] = slices.Index(labels, samples[i].Label)
			d.y[i*d.L+d.cls[i]] = 1
			for l := 0; l < d.L; l++ {
				d.known[i*d.L+l] = true
			}
		}
	} else {
		for i := range samples {
			for l, name := range labels {
				if g, ok := samples[i].Good[name]; ok {
					d.known[i*d.L+l] = true
					d.y[i*d.L+l] = b2f(g)
				}
			}
		}
	}
	// Categories, for soft targets.
	d.cat = make([]int32, n)
	cats := map[string]int32{}
	for i := range samples {
		c := samples[i].Category
		if c == "" {
			d.cat[i] = -1
			continue
		}
		k, ok := cats[c]
		if !ok {
			k = int32(len(cats))
			cats[c] = k
		}
		d.cat[i] = k
	}
	d.nCat = len(cats)
	d.mix = o.CategoryMix
	return d
}

// targets returns the targets a fit on rows learns: the outcomes, or with
// category mixing (1-mix)·outcome + mix·(the outcome rate of the
// sample's category among rows, smoothed by 2 pseudo-samples at the
// rate over rows). Rates come from rows only, so a fold model's targets
// never use its held-out fold.
func (d *design) targets(rows []int) []float64 {
	if d.mix <= 0 || d.nCat == 0 {
		return d.y
	}
	L := d.L
	sum := make([]float64, (d.nCat+1)*L)
	cnt := make([]float64, (d.nCat+1)*L)
	for _, i := range rows {
		c := int(d.cat[i])
		for l := 0; l < L; l++ {
			if !d.known[i*L+l] {
				continue
			}
			sum[d.nCat*L+l] += d.y[i*L+l]
			cnt[d.nCat*L+l]++
			if c >= 0 {
				sum[c*L+l] += d.y[i*L+l]
				cnt[c*L+l]++
			}
		}
	}
	t := slices.Clone(d.y)
	for _, i := range rows {
		c := int(d.cat[i])
		if c < 0 {
			continue
		}
		for l := 0; l < L; l++ {
			if !d.known[i*L+l] {
				continue
			}
			global := sum[d.nCat*L+l] / max(1, cnt[d.nCat*L+l])
			rate := (sum[c*L+l] + 2*global) / (cnt[c*L+l] + 2)
			t[i*L+l] = (1-d.mix)*d.y[i*L+l] + d.mix*rate
		}
	}
	return t
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// parallel runs f(0..n-1) on up to workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// logits writes the logits of row i under theta (D×L weights, then L
// biases) into z.
func (d *design) logits(theta []float64, i int, z []float64) {
	L := d.L
	copy(z, theta[d.D*L:])
	r := &d.rows[i]
	for k, j := range r.idx {
		v := float64(r.val[k])
		w := theta[int(j)*L : int(j)*L+L]
		for l := range z {
			z[l] += v * w[l]
		}
	}
}

// objective returns the mean loss over rows of the targets t (N×L) plus
// l2/2·|W|² at theta and writes its gradient into g.
func (d *design) objective(theta, g []float64, rows []int, t []float64, l2 float64) float64 {
	L := d.L
	clear(g)
	z := make([]float64, L)
	gz := make([]float64, L)
	loss := 0.0
	for _, i := range rows {
		d.logits(theta, i, z)
		if d.kind == KindClassifier {
			hi := math.Inf(-1)
			for _, v := range z {
				hi = max(hi, v)
			}
			sum := 0.0
			for l, v := range z {
				gz[l] = math.Exp(v - hi)
				sum += gz[l]
			}
			lse := math.Log(sum) + hi
			for l := range gz {
				y := t[i*L+l]
				loss += y * (lse - z[l])
				gz[l] = gz[l]/sum - y
			}
		} else {
			for l := range z {
				if !d.known[i*L+l] {
					gz[l] = 0
					continue
				}
				y := t[i*L+l]
				loss += softplus(z[l]) - y*z[l]
				gz[l] = sigmoid(z[l]) - y
			}
		}
		r := &d.rows[i]
		for k, j := range r.idx {
			v := float64(r.val[k])
			gw := g[int(j)*L : int(j)*L+L]
			for l := range gw {
				gw[l] += v * gz[l]
			}
		}
		gb := g[d.D*L:]
		for l := range gb {
			gb[l] += gz[l]
		}
	}
	inv := 1 / float64(max(1, len(rows)))
	loss *= inv
	scaleVec(g, inv)
	nw := d.D * L
	reg := 0.0
	for k := 0; k < nw; k++ {
		reg += theta[k] * theta[k]
		g[k] += l2 * theta[k]
	}
	return loss + l2/2*reg
}

// fit trains weights on rows with strength l2; it stops early, with what
// it has, once ctx ends.
func (d *design) fit(ctx context.Context, rows []int, l2 float64, maxIter int) []float64 {
	theta := make([]float64, (d.D+1)*d.L)
	if d.kind != KindClassifier {
		// Start the biases at the labels' log-odds.
		for l := 0; l < d.L; l++ {
			var good, cnt float64
			for _, i := range rows {
				if d.known[i*d.L+l] {
					good += d.y[i*d.L+l]
					cnt++
				}
			}
			p := (good + 0.5) / (cnt + 1)
			theta[d.D*d.L+l] = math.Log(p / (1 - p))
		}
	}
	t := d.targets(rows)
	minimize(theta, func(x, g []float64) float64 { return d.objective(x, g, rows, t, l2) }, maxIter, 1e-7,
		func() bool { return ctx.Err() != nil })
	return theta
}

// linear turns compact weights into a servable linear model.
func (d *design) linear(theta []float64) *linear {
	L := d.L
	lin := &linear{num: make([]float32, len(d.numeric)*L), bias: make([]float32, L)}
	if d.input == InputText {
		lin.w = make([]float32, d.feat.Buckets()*L)
		for j, b := range d.buckets {
			for l := 0; l < L; l++ {
				lin.w[int(b)*L+l] = float32(theta[j*L+l])
			}
		}
	} else {
		lin.w = make([]float32, d.dim*L)
		for k := 0; k < d.dim*L; k++ {
			lin.w[k] = float32(theta[k])
		}
	}
	for j := range d.numeric {
		for l := 0; l < L; l++ {
			lin.num[j*L+l] = float32(theta[(d.nText+j)*L+l])
		}
	}
	for l := 0; l < L; l++ {
		lin.bias[l] = float32(theta[d.D*L+l])
	}
	return lin
}

// fitCalibration fits the calibration of logits z (N×L, per row) to the
// design's outcomes.
func (d *design) fitCalibration(method string, z [][]float64) []Calibration {
	if d.kind == KindClassifier {
		if method == CalibNone {
			return []Calibration{{Method: CalibTemperature, A: 1}}
		}
		return []Calibration{fitTemperature(z, d.cls)}
	}
	out := make([]Calibration, d.L)
	for l := 0; l < d.L; l++ {
		var zs, ys []float64
		for i := range z {
			if d.known[i*d.L+l] {
				zs = append(zs, z[i][l])
				ys = append(ys, d.y[i*d.L+l])
			}
		}
		switch {
		case method == CalibNone || len(zs) == 0:
			out[l] = Calibration{Method: CalibNone}
		case method == CalibIsotonic:
			out[l] = fitIsotonic(zs, ys)
		default:
			out[l] = fitPlatt(zs, ys)
		}
	}
	return out
}

// loss is the mean log loss of calibrated predictions p.
func (d *design) loss(p [][]float64) float64 {
	s, n := 0.0, 0.0
	for i := range p {
		if d.kind == KindClassifier {
			s -= math.Log(max(probFloor, p[i][d.cls[i]]))
			n++
			continue
		}
		for l := range p[i] {
			if d.known[i*d.L+l] {
				q := min(1-probFloor, max(probFloor, p[i][l]))
				if d.y[i*d.L+l] > 0.5 {
					s -= math.Log(q)
				} else {
					s -= math.Log(1 - q)
				}
				n++
			}
		}
	}
	return s / max(1, n)
}

type fitResult struct {
	oof        [][]float64 // calibrated out-of-fold predictions
	l2         float64
	candidates []L2Candidate
}

// fitAll trains K fold models per L2 candidate, picks the candidate with
// the least calibrated out-of-fold log loss, fits calibration on its
// out-of-fold logits and the model on all samples.
func fitAll(kind string, labels []string, input string, dim int, samples []Sample, o *TrainOptions, tick func()) (*Model, *fitResult, error) {
	d := buildDesign(kind, labels, input, dim, samples, o)
	K := o.Folds
	// A fold model is trained without its fold's samples and without any
	// other sample of the same text (data sets repeat some prompts under
	// other ids), so that it never saw what it scores.
	fold := make([]int, len(samples))
	inFold := make([]map[string]bool, K)
	for k := range inFold {
		inFold[k] = map[string]bool{}
	}
	for i := range samples {
		fold[i] = FoldSeed(samples[i].ID, K, o.Seed)
		if samples[i].X.Text != "" {
			inFold[fold[i]][samples[i].X.Text] = true
		}
	}
	trainRows := make([][]int, K)
	for i := range samples {
		for k := 0; k < K; k++ {
			if k != fold[i] && !inFold[k][samples[i].X.Text] {
				trainRows[k] = append(trainRows[k], i)
			}
		}
	}
	for k := 0; k < K; k++ {
		if len(trainRows[k]) == 0 {
			return nil, nil, fmt.Errorf("learn: %d samples are too few for %d folds: fold %d has no training samples left (a fold model is trained without the texts of its fold, and here every text is in it)", len(samples), K, k)
		}
	}
	all := make([]int, len(samples))
	for i := range all {
		all[i] = i
	}
	G := len(o.L2)
	thetas := make([][][]float64, G) // [candidate][fold]
	for g := range thetas {
		thetas[g] = make([][]float64, K)
	}
	var full []float64
	jobs := G * K
	if G == 1 {
		jobs++ // the full fit runs beside the folds
	}
	parallel(jobs, o.Workers, func(j int) {
		if j == G*K {
			full = d.fit(o.Context, all, o.L2[0], o.MaxIter)
		} else {
			g, k := j/K, j%K
			thetas[g][k] = d.fit(o.Context, trainRows[k], o.L2[g], o.MaxIter)
		}
		tick()
	})
	if err := o.Context.Err(); err != nil {
		return nil, nil, err
	}
	res := &fitResult{}
	best, bestLoss := 0, math.Inf(1)
	var bestCal []Calibration
	for g := range G {
		d.alignFolds(thetas[g], o.Workers)
		z := make([][]float64, len(samples))
		for i := range samples {
			z[i] = make([]float64, d.L)
			d.logits(thetas[g][fold[i]], i, z[i])
		}
		cal := d.fitCalibration(o.Calibration, z)
		p := calibrated(kind, cal, z)
		loss := d.loss(p)
		res.candidates = append(res.candidates, L2Candidate{L2: o.L2[g], LogLoss: loss})
		if loss < bestLoss {
			best, bestLoss, bestCal, res.oof = g, loss, cal, p
		}
	}
	res.l2 = o.L2[best]
	if G > 1 {
		full = d.fit(o.Context, all, res.l2, o.MaxIter)
		if err := o.Context.Err(); err != nil {
			return nil, nil, err
		}
		tick()
	}
	m := &Model{
		kind: kind, labels: slices.Clone(labels), input: input,
		feat: d.feat, dim: d.dim, numeric: d.numeric,
		full: d.linear(full), foldSeed: o.Seed, calib: bestCal,
	}
	if kind == KindWinrate {
		m.output = o.Output
	}
	if input != InputText {
		m.feat = Featurizer{}
	}
	for k := 0; k < K; k++ {
		m.folds = append(m.folds, d.linear(thetas[best][k]))
	}
	return m, res, nil
}

// alignFolds shifts each fold model's biases so that its mean logit over
// all samples is the same for every fold (the folds' average).
//
// Why: a fold model's intercept follows the outcome rate of the samples
// it was trained on, which is high exactly when its held-out fold's rate
// is low. Mixing the folds' out-of-fold scores in one ranking (as a
// cross-fitted evaluation does) would then rank a fold with more good
// outcomes lower: noise against the outcomes that a single model scoring
// new data does not have. The shift uses no outcome: only the fold
// models' own predictions on the samples' features. It leaves the ranking
// within a fold unchanged.
func (d *design) alignFolds(thetas [][]float64, workers int) {
	K, L := len(thetas), d.L
	means := make([][]float64, K)
	parallel(K, workers, func(k int) {
		m := make([]float64, L)
		z := make([]float64, L)
		for i := range d.rows {
			d.logits(thetas[k], i, z)
			for l := range m {
				m[l] += z[l]
			}
		}
		for l := range m {
			m[l] /= float64(len(d.rows))
		}
		means[k] = m
	})
	for l := 0; l < L; l++ {
		target := 0.0
		for k := range K {
			target += means[k][l] / float64(K)
		}
		for k := range K {
			thetas[k][d.D*L+l] += target - means[k][l]
		}
	}
}

// calibrated applies cal to copies of the logits z.
func calibrated(kind string, cal []Calibration, z [][]float64) [][]float64 {
	m := &Model{kind: kind, calib: cal}
	out := make([][]float64, len(z))
	for i := range z {
		out[i] = slices.Clone(z[i])
		m.calibrate(out[i])
	}
	return out
}
