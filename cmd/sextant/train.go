package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/learn/trainset"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

const trainUsage = `usage: sextant train --kind classifier|winrate|gate --data FILE [--data FILE ...] --out MODEL [flags]

Trains a model for the classify and winrate policies (and answer gates)
and writes its model file: the model trained on every sample, plus --folds
fold models for cross-fitted evaluation (` + "`sextant eval`" + ` scores each record
with the fold model that never saw it).

Each --data file is one of:
  recorded data (../shared/data format)  labels from the recorded qualities:
      winrate: per model, "good enough" = at least as good as the record's
      best answer, ties good (--label best, the default), or a correct
      answer on correct/incorrect data (--label correct; scored data such
      as MT Bench keeps "best"); classifier: the cheapest good-enough
      model (--costs, else the weaker model on the file counts as the
      cheaper)
  labelled text, JSON lines {"text": ..., "label": ...}: classifier
  a decision log (the SQLite store), requests logged with
      store.log_requests: the feedback loop. winrate: the served model
      was good iff its latest feedback score >= --good; classifier: the
      feedback label, else the served model when the score >= --good.

It reports accuracy, log loss, Brier score and calibration (ECE and a
reliability table) on a --valid share of the samples held out from a
model trained on the rest, and on the fold models' out-of-fold
predictions; for two-model data with qualities also the cross-fitted
APGR of the router "strong when P(weak good) < t".

flags:
`

// costsFlag is --costs model=cost,...
type costsFlag map[string]float64

func (c costsFlag) String() string { return "" }

func (c costsFlag) Set(v string) error {
	for _, kv := range strings.Split(v, ",") {
		name, val, ok := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if !ok || err != nil || f < 0 || strings.TrimSpace(name) == "" {
			return fmt.Errorf("want MODEL=COST[,MODEL=COST...], got %q", kv)
		}
		c[strings.TrimSpace(name)] = f
	}
	return nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type trainFlags struct {
	kind, out, calibration, embedding, config, format string
	label, output, char, judged                       string
	bits, words                                       int
	numeric                                           bool
	mix                                               float64
	data                                              listFlag
	folds                                             int
	valid, prune, good                                float64
	seed                                              uint64
	l2                                                string
	costs                                             costsFlag
	batch                                             int
}

func trainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", trainUsage, stderr)
	f := trainFlags{costs: costsFlag{}}
	fs.StringVar(&f.kind, "kind", "", "model kind: classifier, winrate or gate (required)")
	fs.Var(&f.data, "data", "training data `FILE` (repeatable; required)")
	fs.StringVar(&f.out, "out", "", "model `FILE` to write; a .gz name is gzipped (required)")
	fs.IntVar(&f.folds, "folds", 5, "fold models `K` for cross-fitting (at least 2)")
	fs.Float64Var(&f.valid, "valid", 0.2, "share of samples held out for the validation report (0 to skip)")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the fold and validation assignment")
	fs.StringVar(&f.l2, "l2", "", "L2 strengths to choose from, comma-separated (default "+floats(learn.DefaultL2)+")")
	fs.StringVar(&f.calibration, "calibration", learn.CalibPlatt, "probability calibration: platt, isotonic or none")
	fs.Var(f.costs, "costs", "models' relative costs `MODEL=COST,...` for the classifier's cheapest-good label")
	fs.StringVar(&f.label, "label", trainset.LabelBest, "recorded data: a good-enough answer is one as good as the record's best (best) or a correct one (correct)")
	fs.StringVar(&f.judged, "judged", "", "gate: the recorded `MODEL` whose answers the gate learns to judge (default the cheapest)")
	fs.Float64Var(&f.good, "good", -1, "decision logs: feedback `SCORE` at or above which an answer counts as good")
	fs.StringVar(&f.embedding, "embedding", "", "train on vectors of this embeddings `MODEL` of --config instead of text")
	fs.StringVar(&f.config, "config", "", "config `FILE` whose fleet has the --embedding model")
	fs.IntVar(&f.batch, "batch", 64, "texts per embeddings call")
	fs.Float64Var(&f.prune, "prune", 0, "drop text weights smaller than `X` in magnitude (a smaller file)")
	fs.StringVar(&f.output, "output", learn.OutputIndependent, "winrate: independent (a head per model) or win_rate (P(correct) heads combined into the win rate against the best other model; with --label correct)")
	fs.IntVar(&f.bits, "bits", learn.DefaultFeaturizer.Bits, "text features: log2 of the hash buckets")
	fs.IntVar(&f.words, "words", learn.DefaultFeaturizer.Words, "text features: longest word n-gram (1-3)")
	fs.StringVar(&f.char, "char", "", "text features: char n-grams `MIN-MAX/PREFIX` over the first PREFIX bytes (e.g. 3-5/256)")
	fs.BoolVar(&f.numeric, "numeric", true, "use the request's numeric features (tokens, math, code, ...)")
	fs.Float64Var(&f.mix, "category-mix", 0, "blend each target with its record category's rate, in [0,1)")
	fs.StringVar(&f.format, "format", "text", "report: text or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "sextant train: "+format+"\n", a...)
		fs.Usage()
		return errUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case f.kind == "" || len(f.data) == 0 || f.out == "":
		return usageErr("--kind, --data and --out are required")
	case (f.embedding == "") != (f.config == ""):
		return usageErr("--embedding and --config go together")
	case f.format != "text" && f.format != "json":
		return usageErr("unknown --format %q (text or json)", f.format)
	case f.batch < 1:
		return usageErr("--batch must be positive")
	case f.label != trainset.LabelBest && f.label != trainset.LabelCorrect:
		return usageErr("unknown --label %q (best or correct)", f.label)
	case f.output == learn.OutputWinRate && f.label != trainset.LabelCorrect:
		return usageErr("--output win_rate combines P(correct) heads: it needs --label correct")
	}
	opts := learn.TrainOptions{
		Folds: f.folds, Valid: f.valid, Seed: f.seed, Calibration: f.calibration,
		EmbeddingModel: f.embedding, CategoryMix: f.mix, Output: f.output, Context: ctx,
		Featurizer: learn.Featurizer{Bits: f.bits, Words: f.words, Punct: true, Digits: learn.DigitsBoth},
	}
	if f.char != "" {
		if _, err := fmt.Sscanf(f.char, "%d-%d/%d", &opts.Featurizer.CharMin, &opts.Featurizer.CharMax, &opts.Featurizer.CharPrefix); err != nil {
			return usageErr("--char %q: want MIN-MAX/PREFIX", f.char)
		}
	}
	if !f.numeric {
		opts.Numeric = []string{}
	}
	if f.l2 != "" {
		for _, s := range strings.Split(f.l2, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return usageErr("--l2: %v", err)
			}
			opts.L2 = append(opts.L2, v)
		}
	}
	sopts := trainset.Options{Costs: f.costs, Label: f.label, Judged: f.judged}
	if f.good >= 0 {
		sopts.Good = &f.good
	}

	var samples []learn.Sample
	for _, path := range f.data {
		set, err := trainset.Read(ctx, path, f.kind, sopts)
		if err != nil {
			return err
		}
		if f.output == learn.OutputWinRate && (set.Source != trainset.SourceRecords || set.Scored) {
			return fmt.Errorf("%s: --output win_rate needs recorded data judged correct or incorrect, and this is %s", path, map[bool]string{true: "scored on a scale", false: "a " + set.Source}[set.Scored])
		}
		fmt.Fprintf(stderr, "%s: %s, %d samples%s\n", path, set.Source, len(set.Samples), skipped(set.Skipped))
		samples = append(samples, set.Samples...)
		opts.Sources = append(opts.Sources, path)
		for _, l := range set.Labels {
			if !slices.Contains(opts.Labels, l) {
				opts.Labels = append(opts.Labels, l)
			}
		}
	}
	if opts.Labels != nil && f.kind == learn.KindGate {
		opts.Labels = nil
	}
	if f.embedding != "" {
		if err := embedSamples(ctx, f.config, f.embedding, f.batch, samples, stderr); err != nil {
			return err
		}
	}
	opts.Progress = trainProgress(stderr)
	m, rep, err := learn.Train(f.kind, samples, opts)
	if err != nil {
		return err
	}
	if f.prune > 0 {
		m = m.Pruned(f.prune)
	}
	if err := m.Save(f.out); err != nil {
		return err
	}
	if fi, err := os.Stat(f.out); err == nil {
		fmt.Fprintf(stderr, "wrote %s (%d bytes)\n", f.out, fi.Size())
	}
	routers := routerMetrics(m, samples, rep)
	if f.format == "json" {
		return writeJSON(stdout, struct {
			Model   learn.Info      `json:"model"`
			Labels  []string        `json:"labels"`
			Report  *learn.Report   `json:"report"`
			Routers []routerSummary `json:"routers,omitempty"`
		}{m.Info(), m.Labels(), rep, routers})
	}
	writeTrainReport(stdout, m, rep, routers)
	return nil
}

// trainProgress reports fits as they finish: redrawn in place on a
// terminal, otherwise a line at every tenth of the work.
func trainProgress(stderr io.Writer) func(stage string, done, total int) {
	start := time.Now()
	term := newProgress(stderr) != nil
	lastTenth := -1
	return func(stage string, done, total int) {
		line := fmt.Sprintf("training: %d/%d fits (%s) %s", done, total, stage, time.Since(start).Round(100*time.Millisecond))
		switch {
		case term:
			fmt.Fprintf(stderr, "\r%s ", line)
			if done == total {
				fmt.Fprintln(stderr)
			}
		case done*10/total != lastTenth:
			lastTenth = done * 10 / total
			fmt.Fprintln(stderr, line)
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func skipped(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return " (skipped " + strings.Join(parts, ", ") + ")"
}

// embedSamples replaces every sample's text by its vector from model, an
// embeddings model of the config's fleet, called through the executor.
func embedSamples(ctx context.Context, configPath, model string, batch int, samples []learn.Sample, stderr io.Writer) error {
	snap, err := config.Load(configPath, config.BuildOptions{Getenv: os.Getenv})
	if err != nil {
		return err
	}
	cm, ok := snap.Models[model]
	if !ok {
		return fmt.Errorf("--embedding: the config has no model %q", model)
	}
	if !cm.Has(catalog.CapEmbeddings) {
		return fmt.Errorf("--embedding: model %q does not have the embeddings capability", model)
	}
	for lo := 0; lo < len(samples); lo += batch {
		hi := min(len(samples), lo+batch)
		in := make([]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			text := samples[i].X.Text
			if text == "" {
				text = " "
			}
			in = append(in, text)
		}
		call := &policy.Call{Request: &llm.Request{Model: model}, Exec: snap.Executor, Trace: trace.New(time.Now()), Now: time.Now()}
		resp, err := snap.Executor.Embed(ctx, call, model, &llm.EmbedRequest{Model: model, Input: in})
		if err != nil {
			return fmt.Errorf("--embedding %s: %w", model, err)
		}
		for i := lo; i < hi; i++ {
			samples[i].X.Vector = resp.Vectors[i-lo]
		}
		if hi == len(samples) || hi*10/len(samples) != lo*10/len(samples) {
			fmt.Fprintf(stderr, "embedding: %d/%d texts\n", hi, len(samples))
		}
	}
	return nil
}

// routerSummary is the cross-fitted curve of the two-model router "strong
// when P(weak good) < t" over one group of samples (a data set).
type routerSummary struct {
	Group  string  `json:"group"`
	N      int     `json:"n"`
	Strong string  `json:"strong"`
	Weak   string  `json:"weak"`
	APGR   float64 `json:"apgr"`
	CPT50  float64 `json:"cpt50"`
	CPT80  float64 `json:"cpt80"`
}

// routerMetrics measures, per group, the router a two-label model makes,
// from the out-of-fold predictions; only for samples with both models'
// qualities. The weak model is the one of lower mean quality.
func routerMetrics(m *learn.Model, samples []learn.Sample, rep *learn.Report) []routerSummary {
	labels := m.Labels()
	if len(labels) != 2 || m.Kind() == learn.KindGate {
		return nil
	}
	groups := map[string][]int{}
	var order []string
	for i := range samples {
		q := samples[i].Quality
		if _, ok := q[labels[0]]; !ok {
			continue
		}
		if _, ok := q[labels[1]]; !ok {
			continue
		}
		g := samples[i].Group
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	var out []routerSummary
	for _, g := range order {
		idx := groups[g]
		var m0, m1 float64
		for _, i := range idx {
			m0 += samples[i].Quality[labels[0]]
			m1 += samples[i].Quality[labels[1]]
		}
		weak, strong := 0, 1
		if m0 > m1 {
			weak, strong = 1, 0
		}
		var score, qs, qw []float64
		for _, i := range idx {
			score = append(score, rep.OOF[i][weak])
			qs = append(qs, samples[i].Quality[labels[strong]])
			qw = append(qw, samples[i].Quality[labels[weak]])
		}
		c := learn.NewCurve(score, qs, qw)
		out = append(out, routerSummary{Group: g, N: len(idx), Strong: labels[strong], Weak: labels[weak],
			APGR: c.APGR(), CPT50: c.CPT(0.5), CPT80: c.CPT(0.8)})
	}
	return out
}

func writeTrainReport(w io.Writer, m *learn.Model, rep *learn.Report, routers []routerSummary) {
	info := m.Info()
	fmt.Fprintf(w, "%s model, input %s, labels %s\n", m.Kind(), m.Input(), strings.Join(m.Labels(), ", "))
	fmt.Fprintf(w, "samples: %d", rep.Samples)
	if rep.Valid > 0 {
		fmt.Fprintf(w, " (validation run: %d train, %d held out)", rep.Train, rep.Valid)
	}
	fmt.Fprintf(w, "; folds: %d; calibration: %s; l2: %g\n", info.Folds, info.Calibration, rep.L2)
	labels := make([]string, 0, len(info.Data.Labels))
	for l := range info.Data.Labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		c := info.Data.Labels[l]
		if m.Kind() == learn.KindClassifier {
			fmt.Fprintf(w, "  class %-40s %d samples\n", l, c.Known)
		} else {
			fmt.Fprintf(w, "  label %-40s %d known, %d good (%.1f%%)\n", l, c.Known, c.Good, 100*float64(c.Good)/float64(max(1, c.Known)))
		}
	}
	if len(rep.Candidates) > 1 {
		fmt.Fprint(w, "l2 candidates (cross-fitted log loss):")
		for _, c := range rep.Candidates {
			fmt.Fprintf(w, " %g=%.4f", c.L2, c.LogLoss)
		}
		fmt.Fprintln(w)
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	learn.WriteMetrics(w, "validation", rep.Validation)
	learn.WriteMetrics(w, "cross-fitted (out-of-fold)", rep.CrossFit)
	if len(routers) > 0 {
		fmt.Fprintln(w, "cross-fitted router \"strong when P(weak good) < t\":")
		for _, r := range routers {
			fmt.Fprintf(w, "  %-12s n=%-6d APGR %.3f  CPT(50%%) %.1f%%  CPT(80%%) %.1f%%\n", r.Group, r.N, r.APGR, 100*r.CPT50, 100*r.CPT80)
		}
	}
}
