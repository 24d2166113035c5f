package learn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Sample is one training example with its outcome.
type Sample struct {
	// ID identifies the sample (a data set record id, a request id); it
	// decides the sample's fold (FoldSeed) and validation split, so it
	// must be stable. Required.
	ID string
	X  Example
	// Label is the class of a classifier sample.
	Label string
	// Good holds the known outcomes of a winrate or gate sample, per
	// label (model name, or "accept"); a label left out is unknown and
	// does not count in that label's loss.
	Good map[string]bool
	// Group names where the sample came from (a data set), for reports.
	Group string
	// Category is a class of the sample known at training time only (a
	// data set's subject), used with TrainOptions.CategoryMix.
	Category string
	// Quality holds recorded answer qualities by model, when known, for
	// reports (the APGR of a two-model winrate router); training does
	// not read it.
	Quality map[string]float64
}

// TrainOptions tune Train. The zero value trains with the defaults.
type TrainOptions struct {
	// Labels fixes the labels and their order; by default a classifier's
	// are its classes and a winrate model's the models with outcomes,
	// sorted. A gate's are always ["accept"].
	Labels []string
	// Featurizer for text samples; zero means DefaultFeaturizer.
	Featurizer Featurizer
	// Numeric lists the numeric features to use; nil means every name
	// found in the samples. Features that never vary are dropped.
	Numeric []string
	// L2 lists candidate regularisation strengths (per-sample loss scale);
	// with more than one, the one with the least cross-fitted log loss is
	// kept. Default DefaultL2.
	L2 []float64
	// Folds is K, the number of fold models (cross-fitting and the
	// out-of-fold predictions calibration is fitted on); 0 means 5.
	// It must be at least 2.
	Folds int
	// Valid is the share of samples (by id hash) held out: a model is
	// first trained the same way on the rest and measured on them
	// (Report.Validation); the model returned is then trained on all.
	// 0 skips it.
	Valid float64
	// Seed changes the fold and validation assignment.
	Seed uint64
	// CategoryMix, in [0,1), blends each sample's target with its
	// category's outcome rate (among the fit's training samples):
	// target = (1-mix)·outcome + mix·rate. Outcomes of single prompts
	// are noisy (a model gets one question right and the next wrong by
	// luck), and a category's rate is a far less noisy signal of how
	// hard its prompts are; the text model learns to recognise it from
	// words. Samples without a Category keep their outcomes. 0 turns
	// it off.
	CategoryMix float64
	// Output is how a winrate model's heads become predictions:
	// OutputIndependent (default) or OutputWinRate, whose samples' Good
	// must then be correct/incorrect outcomes.
	Output string
	// Calibration is CalibPlatt (default), CalibIsotonic or CalibNone;
	// a classifier's Platt calibration is a softmax temperature.
	Calibration string
	// EmbeddingModel names the embeddings model of samples with vectors.
	EmbeddingModel string
	// Sources name the training data, for Info.
	Sources []string
	// MaxIter bounds the optimiser's iterations per fit (default 300).
	MaxIter int
	// Workers is the number of fits run at once (default GOMAXPROCS).
	Workers int
	// Progress, when set, is called as fits finish with a stage name and
	// the fits done and planned. It may be called from several
	// goroutines, never at once.
	Progress func(stage string, done, total int)
	// Now stamps Info.TrainedAt (default time.Now).
	Now func() time.Time
	// Context, when set, cancels training: Train returns its error.
	Context context.Context
}

// DefaultL2 is the candidate L2 strengths Train tries by default.
var DefaultL2 = []float64{3e-4, 1e-3, 3e-3, 1e-2}

// Report is what Train measured.
type Report struct {
	Samples int `json:"samples"`
	// Train and Valid count the samples of the validation run (Valid 0
	// when there was none).
	Train int `json:"train"`
	Valid int `json:"valid"`
	// Validation measures the model trained without the validation
	// split on it; CrossFit the out-of-fold predictions of the fold
	// models of the returned model over all samples. Both measure the
	// heads against the outcomes they were trained on (for OutputWinRate,
	// P(correct)).
	Validation *Metrics `json:"validation,omitempty"`
	CrossFit   *Metrics `json:"cross_fit"`
	// L2 is the strength chosen and Candidates each candidate's
	// cross-fitted log loss.
	L2         float64       `json:"l2"`
	Candidates []L2Candidate `json:"candidates"`
	// Warnings note labels with too few outcomes to learn from.
	Warnings []string `json:"warnings,omitempty"`
	// OOF holds the out-of-fold predictions (as Predict returns them)
	// of every sample, in sample order, for offline evaluation.
	OOF [][]float64 `json:"-"`
}

// L2Candidate is one candidate strength and its cross-fitted log loss.
type L2Candidate struct {
	L2      float64 `json:"l2"`
	LogLoss float64 `json:"log_loss"`
}

// Train trains a model of kind on samples (see TrainOptions) and measures
// it. All samples must have an ID and, for an InputEmbedding model (one
// whose samples carry vectors), vectors of one length.
func Train(kind string, samples []Sample, opts TrainOptions) (*Model, *Report, error) {
	o, err := opts.withDefaults(kind)
	if err != nil {
		return nil, nil, err
	}
	labels, err := trainLabels(kind, samples, o.Labels)
	if err != nil {
		return nil, nil, err
	}
	input, dim, err := sampleInput(samples)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Samples: len(samples)}
	var trainPart, validPart []Sample
	if o.Valid > 0 {
		for _, s := range samples {
			if unitHash(s.ID, o.Seed^0x5bd1e995) < o.Valid {
				validPart = append(validPart, s)
			} else {
				trainPart = append(trainPart, s)
			}
		}
		if len(validPart) == 0 || len(trainPart) < 2*o.Folds {
			return nil, nil, fmt.Errorf("learn: %d samples are too few for a %.0f%% validation split and %d folds", len(samples), 100*o.Valid, o.Folds)
		}
	}
	perRun := len(o.L2)*o.Folds + 1
	if len(o.L2) == 1 {
		perRun = o.Folds + 1
	}
	total := perRun
	if validPart != nil {
		total *= 2
	}
	var done atomic.Int64
	var progMu sync.Mutex
	tick := func(stage string) {
		n := done.Add(1)
		if o.Progress != nil {
			progMu.Lock()
			o.Progress(stage, int(n), total)
			progMu.Unlock()
		}
	}
	if validPart != nil {
		vm, _, err := fitAll(kind, labels, input, dim, trainPart, &o, func() { tick("validation") })
		if err != nil {
			return nil, nil, err
		}
		rep.Train, rep.Valid = len(trainPart), len(validPart)
		preds := make([][]float64, len(validPart))
		for i := range validPart {
			preds[i] = make([]float64, len(labels))
			vm.logits(vm.full, &validPart[i].X, preds[i])
			vm.heads(preds[i])
		}
		rep.Validation = measure(kind, labels, validPart, preds)
	}
	m, fr, err := fitAll(kind, labels, input, dim, samples, &o, func() { tick("train") })
	if err != nil {
		return nil, nil, err
	}
	rep.CrossFit = measure(kind, labels, samples, fr.oof)
	rep.OOF = fr.oof
	if m.output == OutputWinRate {
		rep.OOF = make([][]float64, len(fr.oof))
		for i, p := range fr.oof {
			rep.OOF[i] = slices.Clone(p)
			winRate(rep.OOF[i])
		}
	}
	rep.L2, rep.Candidates, rep.Warnings = fr.l2, fr.candidates, labelWarnings(kind, labels, samples)
	m.info = Info{
		Version: FormatVersion, Kind: kind, TrainedAt: o.Now().UTC().Truncate(time.Second),
		Data:       summarize(kind, labels, samples, o.Sources),
		Validation: rep.Validation, CrossFit: rep.CrossFit,
		L2: fr.l2, Folds: o.Folds, Calibration: o.Calibration, CategoryMix: o.CategoryMix,
	}
	if m.input == InputText {
		feat := m.feat
		m.info.Featurizer = &feat
	}
	m.embeddingModel = o.EmbeddingModel
	if kind == KindWinrate {
		m.info.Output = o.Output
	}
	return m, rep, nil
}

func (o TrainOptions) withDefaults(kind string) (TrainOptions, error) {
	switch kind {
	case KindClassifier, KindWinrate, KindGate:
	default:
		return o, fmt.Errorf("learn: unknown model kind %q (classifier, winrate or gate)", kind)
	}
	if o.Featurizer == (Featurizer{}) {
		o.Featurizer = DefaultFeaturizer
	}
	if err := o.Featurizer.validate(); err != nil {
		return o, fmt.Errorf("learn: %w", err)
	}
	if len(o.L2) == 0 {
		o.L2 = DefaultL2
	}
	for _, l := range o.L2 {
		if !(l > 0) || math.IsInf(l, 0) {
			return o, fmt.Errorf("learn: L2 strength %v must be positive", l)
		}
	}
	if o.Folds == 0 {
		o.Folds = 5
	}
	if o.Folds < 2 {
		return o, fmt.Errorf("learn: folds %d must be at least 2", o.Folds)
	}
	switch o.Output {
	case "":
		o.Output = OutputIndependent
	case OutputIndependent:
	case OutputWinRate:
		if kind != KindWinrate {
			return o, fmt.Errorf("learn: output %q is for winrate models", o.Output)
		}
	default:
		return o, fmt.Errorf("learn: unknown output %q (independent or win_rate)", o.Output)
	}
	if o.CategoryMix < 0 || o.CategoryMix >= 1 || math.IsNaN(o.CategoryMix) {
		return o, fmt.Errorf("learn: category mix %v must be in [0,1)", o.CategoryMix)
	}
	if o.Valid < 0 || o.Valid >= 1 || math.IsNaN(o.Valid) {
		return o, fmt.Errorf("learn: validation share %v must be in [0,1)", o.Valid)
	}
	switch o.Calibration {
	case "":
		o.Calibration = CalibPlatt
	case CalibPlatt, CalibIsotonic, CalibNone:
	default:
		return o, fmt.Errorf("learn: unknown calibration %q (platt, isotonic or none)", o.Calibration)
	}
	if o.MaxIter <= 0 {
		o.MaxIter = 300
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	return o, nil
}

// trainLabels returns the labels of the model.
func trainLabels(kind string, samples []Sample, fixed []string) ([]string, error) {
	if len(samples) == 0 {
		return nil, errors.New("learn: no samples")
	}
	for i := range samples {
		if samples[i].ID == "" {
			return nil, fmt.Errorf("learn: sample %d has no id", i)
		}
	}
	if kind == KindGate {
		return []string{"accept"}, nil
	}
	seen := map[string]bool{}
	for i := range samples {
		if kind == KindClassifier {
			if samples[i].Label == "" {
				return nil, fmt.Errorf("learn: sample %q has no label", samples[i].ID)
			}
			seen[samples[i].Label] = true
			continue
		}
		for l := range samples[i].Good {
			seen[l] = true
		}
	}
	var labels []string
	if fixed != nil {
		labels = slices.Clone(fixed)
		for l := range seen {
			if !slices.Contains(labels, l) {
				return nil, fmt.Errorf("learn: samples have label %q, which is not among the labels given (%v)", l, fixed)
			}
		}
	} else {
		for l := range seen {
			labels = append(labels, l)
		}
		sort.Strings(labels)
	}
	if kind == KindClassifier && len(labels) < 2 {
		return nil, fmt.Errorf("learn: a classifier needs at least two classes, the samples have %d", len(labels))
	}
	if len(labels) == 0 {
		return nil, errors.New("learn: no sample has a known outcome")
	}
	return labels, nil
}

// sampleInput tells whether samples are text or vectors.
func sampleInput(samples []Sample) (string, int, error) {
	dim := len(samples[0].X.Vector)
	for i := range samples {
		if len(samples[i].X.Vector) != dim {
			return "", 0, fmt.Errorf("learn: sample %q has a vector of length %d, sample %q of %d", samples[i].ID, len(samples[i].X.Vector), samples[0].ID, dim)
		}
	}
	if dim > 0 {
		return InputEmbedding, dim, nil
	}
	return InputText, 0, nil
}

// unitHash maps id to [0,1).
func unitHash(id string, seed uint64) float64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= fnvPrime
	}
	return float64(mix(h^seed)>>11) / (1 << 53)
}

func labelWarnings(kind string, labels []string, samples []Sample) []string {
	if kind == KindClassifier {
		return nil
	}
	var out []string
	for _, l := range labels {
		good, bad := 0, 0
		for i := range samples {
			if g, ok := samples[i].Good[l]; ok {
				if g {
					good++
				} else {
					bad++
				}
			}
		}
		if good < 5 || bad < 5 {
			out = append(out, fmt.Sprintf("label %q has %d good and %d bad outcomes: too few to learn from", l, good, bad))
		}
	}
	return out
}

func summarize(kind string, labels []string, samples []Sample, sources []string) DataSummary {
	d := DataSummary{Samples: len(samples), Sources: sources, Labels: map[string]LabelCount{}}
	for _, l := range labels {
		var c LabelCount
		for i := range samples {
			if kind == KindClassifier {
				if samples[i].Label == l {
					c.Known++
				}
				continue
			}
			if g, ok := samples[i].Good[l]; ok {
				c.Known++
				if g {
					c.Good++
				}
			}
		}
		d.Labels[l] = c
	}
	return d
}

// measure computes the metrics of predictions preds of samples.
func measure(kind string, labels []string, samples []Sample, preds [][]float64) *Metrics {
	if kind == KindClassifier {
		y := make([]int, len(samples))
		for i := range samples {
			y[i] = slices.Index(labels, samples[i].Label)
		}
		return classMetrics(preds, y)
	}
	var ap, ay []float64
	per := map[string]*Metrics{}
	for l, name := range labels {
		var p, y []float64
		for i := range samples {
			if g, ok := samples[i].Good[name]; ok {
				p = append(p, preds[i][l])
				y = append(y, b2f(g))
			}
		}
		per[name] = binaryMetrics(p, y)
		ap, ay = append(ap, p...), append(ay, y...)
	}
	m := binaryMetrics(ap, ay)
	if len(labels) > 1 {
		m.PerLabel = per
	}
	return m
}

// predictWith scores x with lin as Predict does.
func (m *Model) predictWith(lin *linear, x *Example) []float64 {
	out := make([]float64, len(m.labels))
	m.logits(lin, x, out)
	m.calibrate(out)
	return out
}
