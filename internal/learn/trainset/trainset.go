// Package trainset builds the training samples of `sextant train` from its
// data files, one builder per model kind and data source.
//
// # Sources
//
// Read detects each file's source:
//
//   - a recorded data set (the ../shared/data format, package dataset):
//     JSON lines with "prompt" and "models";
//   - labelled text: JSON lines {"text": "...", "label": "..."} with an
//     optional "id";
//   - a decision log: a Sextant SQLite store (package store), whose
//     decisions carry their request (logged with store.log_requests) and
//     feedback.
//
// # Labels
//
// A model m's answer to a record is good enough (Good) when its quality
// is at least the best quality any model got on that record, a tie
// counting as good (LabelBest, RouteLLM's "win" label): so some model is
// always good, and a cheaper model is good exactly when sending the
// record to a stronger one would not have helped — including when the
// stronger one is wrong too. Options.Label LabelCorrect instead calls a
// correct answer (quality >= 1) good on data judged correct or not
// (GSM8K, MMLU), whatever the other models did; scored data (MT Bench's
// 1-10 judge scores) keeps LabelBest. LabelBest routes better: a router
// that knows only P(correct) spends strong calls on questions both
// models get wrong (see internal/learn/experiment_test.go).
//
//	winrate     recorded data: one sample per record, with every model's
//	            Good outcome. Decision log: one sample per decision with
//	            a feedback score, with one known outcome, the served
//	            model's: good when the score is at least Options.Good.
//	classifier  recorded data: the label is the cheapest model whose
//	            answer is good enough, cheapest by Options.Costs or, when
//	            none are given, by mean quality over the file (the weaker
//	            model taken as the cheaper); when no answer is good
//	            enough, the record's best model (ties to the costlier).
//	            Labelled text: its label. Decision log: the feedback's
//	            label when it has one, else the served model when the
//	            score is at least Options.Good; other decisions are
//	            skipped (nothing says which model would have done).
//	gate        recorded data: one sample per record with an answer of
//	            the judged model (Options.Judged, default the cheapest) to
//	            its first turn, featurized by package gate's
//	            learned.RecordExample; "accept" is good by Options.Label
//	            (best: no recorded answer scored higher, so escalating
//	            would not have helped). Not from logs or labelled text.
//
// The example of a record is learn.RequestExample of the request a router
// sees for it: its first user turn, as `sextant eval` routes it (the
// model that answers the first turn answers the later ones). The example
// of a logged decision is that of its logged request. Sample ids are the
// record ids and request ids (labelled text: the "id", else a hash of the
// text), so cross-fitting excludes a record from the fold model that
// scores it.
package trainset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sort"
	"strconv"

	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/gate/learned"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
)

// Options tune how samples are built.
type Options struct {
	// Costs gives models' relative costs (any unit), for the classifier's
	// "cheapest good model" label. Models without a cost are ordered by
	// mean quality after those with one.
	Costs map[string]float64
	// Good is the feedback score at or above which a logged answer counts
	// as good enough (decision logs). Required for logs with scores.
	Good *float64
	// Label is the rule for recorded answers: LabelBest (default) or
	// LabelCorrect.
	Label string
	// Judged names the recorded model whose answers a gate learns to
	// judge; default the cheapest (CostOrder), the model a cascade tries
	// first. Learning from the answers of the model the gate will judge
	// beats learning from every model's (GSM8K cross-fitted APGR 0.80
	// against 0.72).
	Judged string
}

// Set is the samples of one file.
type Set struct {
	Path string
	// Source is SourceRecords, SourceLabelled or SourceLog.
	Source  string
	Samples []learn.Sample
	// Labels is the label order the source suggests: the models by cost
	// (records) or nil (sorted by Train).
	Labels []string
	// Skipped counts the entries that gave no sample, with the reasons.
	Skipped map[string]int
	// Scored is true for recorded data with scores on a scale (not
	// correct or incorrect), whose outcomes are always LabelBest.
	Scored bool
}

// Sources.
const (
	SourceRecords  = "records"
	SourceLabelled = "labelled"
	SourceLog      = "decision-log"
)

// builder builds one kind's samples from each source; a nil function
// means the kind cannot learn from that source.
type builder struct {
	records  func(recs []dataset.Record, o *Options, set *Set) error
	labelled func(rows []labelledRow, set *Set) error
	log      func(rows []logRow, o *Options, set *Set) error
}

// kinds is the table of sample builders, by model kind.
var kinds = map[string]builder{
	learn.KindWinrate:    {records: winrateRecords, log: winrateLog},
	learn.KindClassifier: {records: classifierRecords, labelled: classifierLabelled, log: classifierLog},
	learn.KindGate:       {records: gateRecords},
}

// Read reads the file at path and builds samples of kind from it.
func Read(ctx context.Context, path, kind string, o Options) (*Set, error) {
	b, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("unknown model kind %q (classifier, winrate or gate)", kind)
	}
	source, err := Detect(path)
	if err != nil {
		return nil, err
	}
	set := &Set{Path: path, Source: source, Skipped: map[string]int{}}
	cannot := func() error {
		return fmt.Errorf("%s: a %s model cannot be trained from a %s", path, kind, source)
	}
	switch source {
	case SourceRecords:
		if b.records == nil {
			return nil, cannot()
		}
		recs, err := dataset.LoadFile(path)
		if err != nil {
			return nil, err
		}
		err = b.records(recs, &o, set)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case SourceLabelled:
		if b.labelled == nil {
			return nil, cannot()
		}
		rows, err := readLabelled(path)
		if err != nil {
			return nil, err
		}
		if err := b.labelled(rows, set); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case SourceLog:
		if b.log == nil {
			return nil, cannot()
		}
		rows, err := readLog(ctx, path)
		if err != nil {
			return nil, err
		}
		if err := b.log(rows, &o, set); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(set.Samples) == 0 {
		return nil, fmt.Errorf("%s: no samples (%s)", path, skippedText(set.Skipped))
	}
	return set, nil
}

func skippedText(m map[string]int) string {
	if len(m) == 0 {
		return "the file is empty"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", m[k], k)
	}
	return "skipped: " + b.String()
}

// Detect tells the source of the file at path: SQLite by its header, else
// by the first JSON line's members.
func Detect(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	head, _ := r.Peek(16)
	if bytes.Equal(head, []byte("SQLite format 3\x00")) {
		return SourceLog, nil
	}
	for {
		line, err := r.ReadBytes('\n')
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			var probe map[string]json.RawMessage
			if jerr := json.Unmarshal(line, &probe); jerr != nil {
				return "", fmt.Errorf("%s:1: neither a decision log nor JSON lines: %v", path, jerr)
			}
			_, hasPrompt := probe["prompt"]
			_, hasModels := probe["models"]
			_, hasText := probe["text"]
			_, hasLabel := probe["label"]
			switch {
			case hasPrompt && hasModels:
				return SourceRecords, nil
			case hasText && hasLabel:
				return SourceLabelled, nil
			}
			return "", fmt.Errorf("%s:1: unknown data: want recorded data (prompt, models) or labelled text (text, label)", path)
		}
		if err == io.EOF {
			return "", fmt.Errorf("%s: empty file", path)
		}
		if err != nil {
			return "", err
		}
	}
}

// RouteRequest is the request a router sees for rec: its first user turn.
func RouteRequest(rec *dataset.Record) *llm.Request {
	return &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: rec.Prompt[0].Content}}}
}

// Example is learn.RequestExample of req.
func Example(req *llm.Request) learn.Example {
	return learn.RequestExample(req, features.Extract(req))
}

// Label rules: when a recorded answer is good enough.
const (
	// LabelBest: the answer is at least as good as the record's best
	// answer (RouteLLM's "win" label, ties counting as good).
	LabelBest = "best"
	// LabelCorrect: a correct answer (quality >= 1) on data judged
	// correct or not; on scored data it is LabelBest.
	LabelCorrect = "correct"
)

// Goodness returns which models' answers to rec are good enough under
// rule (LabelBest when ""); models without a quality are left out.
func Goodness(rec *dataset.Record, rule string) map[string]bool {
	best, scored := -1e300, false
	for _, a := range rec.Models {
		if a.Quality == nil {
			continue
		}
		best = max(best, *a.Quality)
		if a.Correct == nil {
			scored = true
		}
	}
	out := map[string]bool{}
	for m, a := range rec.Models {
		if a.Quality == nil {
			continue
		}
		if rule == LabelCorrect && !scored {
			out[m] = *a.Quality >= 1
		} else {
			out[m] = *a.Quality >= best
		}
	}
	return out
}

// scored reports whether any answer of recs is scored on a scale.
func scored(recs []dataset.Record) bool {
	for i := range recs {
		for _, a := range recs[i].Models {
			if a.Quality != nil && a.Correct == nil {
				return true
			}
		}
	}
	return false
}

func qualities(rec *dataset.Record) map[string]float64 {
	out := map[string]float64{}
	for m, a := range rec.Models {
		if a.Quality != nil {
			out[m] = *a.Quality
		}
	}
	return out
}

// CostOrder orders the models of recs cheapest first: by costs where
// given, then the others by mean quality, weakest first (taken as the
// cheaper), ties by name.
func CostOrder(recs []dataset.Record, costs map[string]float64) []string {
	sum, n := map[string]float64{}, map[string]float64{}
	for i := range recs {
		for m, a := range recs[i].Models {
			if a.Quality != nil {
				sum[m] += *a.Quality
				n[m]++
			}
		}
	}
	models := make([]string, 0, len(sum))
	for m := range sum {
		models = append(models, m)
	}
	sort.Slice(models, func(i, j int) bool {
		a, b := models[i], models[j]
		ca, oka := costs[a]
		cb, okb := costs[b]
		switch {
		case oka && okb && ca != cb:
			return ca < cb
		case oka != okb:
			return oka
		}
		qa, qb := sum[a]/n[a], sum[b]/n[b]
		if qa != qb {
			return qa < qb
		}
		return a < b
	})
	return models
}

func winrateRecords(recs []dataset.Record, o *Options, set *Set) error {
	set.Labels = CostOrder(recs, o.Costs)
	set.Scored = scored(recs)
	for i := range recs {
		good := Goodness(&recs[i], o.Label)
		if len(good) == 0 {
			set.Skipped["records without a quality"]++
			continue
		}
		set.Samples = append(set.Samples, learn.Sample{
			ID: recs[i].ID, X: Example(RouteRequest(&recs[i])), Good: good, Group: recs[i].Dataset,
			Category: recs[i].Category, Quality: qualities(&recs[i]),
		})
	}
	return nil
}

func classifierRecords(recs []dataset.Record, o *Options, set *Set) error {
	order := CostOrder(recs, o.Costs)
	set.Scored = scored(recs)
	set.Labels = order
	for i := range recs {
		good := Goodness(&recs[i], o.Label)
		label := ""
		for _, m := range order {
			if good[m] {
				label = m
				break
			}
		}
		if label == "" {
			best := -1e300
			for _, m := range order {
				if a, ok := recs[i].Models[m]; ok && a.Quality != nil && *a.Quality >= best {
					best, label = *a.Quality, m
				}
			}
		}
		if label == "" {
			set.Skipped["records without a quality"]++
			continue
		}
		set.Samples = append(set.Samples, learn.Sample{
			ID: recs[i].ID, X: Example(RouteRequest(&recs[i])), Label: label, Group: recs[i].Dataset,
			Category: recs[i].Category, Quality: qualities(&recs[i]),
		})
	}
	return nil
}

// gateRecords builds gate samples from recorded data: one per record with
// an answer of the judged model (Options.Judged, default the cheapest) to
// its first turn, featurized by package gate's learned.RecordExample, the
// one outcome "accept" good by Options.Label.
func gateRecords(recs []dataset.Record, o *Options, set *Set) error {
	judged := o.Judged
	if judged == "" {
		order := CostOrder(recs, o.Costs)
		if len(order) == 0 {
			return fmt.Errorf("%s: no recorded models to judge", set.Path)
		}
		judged = order[0]
	}
	label := learned.LabelBest
	if o.Label == LabelCorrect {
		label = learned.LabelCorrect
	}
	samples, skipped, err := learned.RecordSamples(recs, learned.SampleOptions{Model: judged, Label: label})
	if err != nil {
		return err
	}
	if skipped > 0 {
		set.Skipped["records without an answer of "+judged] += skipped
	}
	set.Samples = append(set.Samples, samples...)
	set.Labels = []string{"accept"}
	return nil
}

// labelledRow is one line of labelled text.
type labelledRow struct {
	ID    string `json:"id"`
	Text  string `json:"text"`
	Label string `json:"label"`
	line  int
}

func readLabelled(path string) ([]labelledRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var rows []labelledRow
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var r labelledRow
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if r.Label == "" {
			return nil, fmt.Errorf("%s:%d: no label", path, line)
		}
		r.line = line
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

func classifierLabelled(rows []labelledRow, set *Set) error {
	for _, r := range rows {
		id := r.ID
		if id == "" {
			h := fnv.New64a()
			h.Write([]byte(r.Text))
			id = "text/" + strconv.FormatUint(h.Sum64(), 16)
		}
		req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: r.Text}}}
		set.Samples = append(set.Samples, learn.Sample{ID: id, X: Example(req), Label: r.Label, Group: "labelled"})
	}
	return nil
}
