package trainset

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/store"
)

const (
	strong = "gpt-4-1106-preview"
	weak   = "mistralai/Mixtral-8x7B-Instruct-v0.1"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// records: a GSM8K-style record per outcome, and MT-Bench-style scored
// ones.
const records = `{"id":"g/1","dataset":"gsm8k","category":"gsm8k","prompt":[{"role":"user","content":"both right"}],"models":{"S":{"correct":true,"quality":1},"W":{"correct":true,"quality":1}}}
{"id":"g/2","dataset":"gsm8k","category":"gsm8k","prompt":[{"role":"user","content":"only strong"}],"models":{"S":{"correct":true,"quality":1},"W":{"correct":false,"quality":0}}}
{"id":"g/3","dataset":"gsm8k","category":"gsm8k","prompt":[{"role":"user","content":"both wrong"}],"models":{"S":{"correct":false,"quality":0},"W":{"correct":false,"quality":0}}}
{"id":"g/4","dataset":"gsm8k","category":"gsm8k","prompt":[{"role":"user","content":"only weak"}],"models":{"S":{"correct":false,"quality":0},"W":{"correct":true,"quality":1}}}
{"id":"m/1","dataset":"mt_bench","category":"writing","prompt":[{"role":"user","content":"tie"},{"role":"user","content":"second turn"}],"models":{"S":{"score":8,"quality":8},"W":{"score":8,"quality":8}}}
{"id":"m/2","dataset":"mt_bench","category":"math","prompt":[{"role":"user","content":"strong better"},{"role":"user","content":"again"}],"models":{"S":{"score":9,"quality":9},"W":{"score":4.5,"quality":4.5}}}
{"id":"m/3","dataset":"mt_bench","category":"math","prompt":[{"role":"user","content":"no quality"}],"models":{"S":{}}}
`

func TestWinrateFromRecords(t *testing.T) {
	path := write(t, "data.jsonl", records)
	tests := []struct {
		rule string
		want map[string]map[string]bool
	}{
		{LabelBest, map[string]map[string]bool{
			"g/1": {"S": true, "W": true},
			"g/2": {"S": true, "W": false},
			"g/3": {"S": true, "W": true}, // both wrong: the weak one did as well
			"g/4": {"S": false, "W": true},
			"m/1": {"S": true, "W": true}, // a tie counts as good
			"m/2": {"S": true, "W": false},
		}},
		{LabelCorrect, map[string]map[string]bool{
			"g/1": {"S": true, "W": true},
			"g/2": {"S": true, "W": false},
			"g/3": {"S": false, "W": false},
			"g/4": {"S": false, "W": true},
			"m/1": {"S": true, "W": true}, // scored data keeps "best"
			"m/2": {"S": true, "W": false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			set, err := Read(context.Background(), path, learn.KindWinrate, Options{Label: tc.rule})
			if err != nil {
				t.Fatal(err)
			}
			if set.Source != SourceRecords || set.Skipped["records without a quality"] != 1 {
				t.Fatalf("source %s, skipped %v", set.Source, set.Skipped)
			}
			if len(set.Samples) != len(tc.want) {
				t.Fatalf("%d samples", len(set.Samples))
			}
			for _, s := range set.Samples {
				want := tc.want[s.ID]
				for m, g := range want {
					if s.Good[m] != g {
						t.Errorf("%s: %s good=%v, want %v", s.ID, m, s.Good[m], g)
					}
				}
			}
			// The example is the routed request: the first turn only.
			for _, s := range set.Samples {
				if s.ID == "m/1" && s.X.Text != "tie" {
					t.Fatalf("text %q, want the first turn", s.X.Text)
				}
				if s.ID == "m/1" && (s.Category != "writing" || s.Group != "mt_bench" || s.Quality["S"] != 8) {
					t.Fatalf("sample %+v", s)
				}
			}
			// W has the lower mean quality: it counts as the cheaper.
			if !slices.Equal(set.Labels, []string{"W", "S"}) {
				t.Fatalf("labels %v", set.Labels)
			}
		})
	}
}

func TestClassifierFromRecords(t *testing.T) {
	path := write(t, "data.jsonl", records)
	tests := []struct {
		name  string
		costs map[string]float64
		want  map[string]string
	}{
		{"cheapest by quality", nil, map[string]string{"g/1": "W", "g/2": "S", "g/3": "W", "g/4": "W", "m/1": "W", "m/2": "S"}},
		{"cheapest by cost", map[string]float64{"S": 1, "W": 5}, map[string]string{"g/1": "S", "g/2": "S", "g/3": "S", "g/4": "W", "m/1": "S", "m/2": "S"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Read(context.Background(), path, learn.KindClassifier, Options{Costs: tc.costs})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range set.Samples {
				if s.Label != tc.want[s.ID] {
					t.Errorf("%s: label %s, want %s", s.ID, s.Label, tc.want[s.ID])
				}
			}
		})
	}
	// With the correct-answer rule and both wrong, the record's best
	// model (ties to the costlier) is the label.
	set, err := Read(context.Background(), path, learn.KindClassifier, Options{Label: LabelCorrect})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range set.Samples {
		if s.ID == "g/3" && s.Label != "S" {
			t.Fatalf("g/3: %s", s.Label)
		}
	}
}

func TestLabelled(t *testing.T) {
	path := write(t, "l.jsonl", `{"text":"fix my python","label":"code"}
{"id":"x","text":"integrate x^2","label":"math"}

{"text":"fix my python","label":"code"}
`)
	set, err := Read(context.Background(), path, learn.KindClassifier, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Source != SourceLabelled || len(set.Samples) != 3 {
		t.Fatalf("%s, %d samples", set.Source, len(set.Samples))
	}
	if set.Samples[1].ID != "x" || set.Samples[0].ID != set.Samples[2].ID || !strings.HasPrefix(set.Samples[0].ID, "text/") {
		t.Fatalf("ids %s %s %s", set.Samples[0].ID, set.Samples[1].ID, set.Samples[2].ID)
	}
	if set.Samples[1].X.Numeric["math"] != 1 {
		t.Fatalf("numeric features %v", set.Samples[1].X.Numeric)
	}
	if _, err := Read(context.Background(), path, learn.KindWinrate, Options{}); err == nil || !strings.Contains(err.Error(), "cannot be trained from a labelled") {
		t.Fatalf("winrate from labelled text: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, content, kind, want string
	}{
		{"unknown kind", records, "bogus", "unknown model kind"},
		{"not json", "hello\n", learn.KindWinrate, "neither a decision log nor JSON lines"},
		{"unknown json", `{"a":1}` + "\n", learn.KindWinrate, "unknown data"},
		{"empty", "\n\n", learn.KindWinrate, "empty file"},
		{"label missing", `{"text":"a","label":""}` + "\n", learn.KindClassifier, "no label"},
		{"bad record", `{"id":"","prompt":[],"models":{}}` + "\n", learn.KindWinrate, "data.jsonl:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, "data.jsonl", tc.content)
			_, err := Read(context.Background(), path, tc.kind, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestGoodnessOnSharedData(t *testing.T) {
	// The demo slice mirrors ../shared/data: every record has both models.
	recs := dataset.Demo()
	for i := range recs {
		g := Goodness(&recs[i], LabelBest)
		if len(g) != 2 || (!g[strong] && !g[weak]) {
			t.Fatalf("%s: %v (some model is always best)", recs[i].ID, g)
		}
	}
}

// logDB writes a decision log: answered decisions with and without a
// logged request and feedback.
func logDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req := func(text string) json.RawMessage {
		b, _ := json.Marshal(&llm.Request{Model: "auto", Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "be nice"}, {Role: llm.RoleUser, Content: text}}})
		return b
	}
	ctx := context.Background()
	ds := []store.Decision{
		{RequestID: "r1", Route: "auto", Model: "small", Status: 200, Request: req("hello there")},
		{RequestID: "r2", Route: "auto", Model: "small", Status: 200, Request: req("prove it")},
		{RequestID: "r3", Route: "auto", Model: "large", Status: 200, Request: req("prove more")},
		{RequestID: "r4", Route: "auto", Model: "large", Status: 200},                        // no request
		{RequestID: "r5", Route: "auto", Model: "small", Status: 200, Request: req("no fb")}, // no feedback
		{RequestID: "r6", Route: "auto", Status: 502, Request: req("failed")},                // failed
		{RequestID: "r7", Route: "auto", Model: "small", Status: 200, Request: req("labelled")},
	}
	if err := s.WriteDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	score := func(v float64) *float64 { return &v }
	for _, fb := range []store.Feedback{
		{RequestID: "r1", Score: score(0.2)},
		{RequestID: "r1", Score: score(0.9)}, // the latest score counts
		{RequestID: "r2", Score: score(0.1)},
		{RequestID: "r3", Score: score(1)},
		{RequestID: "r4", Score: score(1)},
		{RequestID: "r7", Label: "large"},
	} {
		if err := s.AddFeedback(ctx, fb); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestDecisionLog(t *testing.T) {
	path := logDB(t)
	good := 0.5
	if src, err := Detect(path); err != nil || src != SourceLog {
		t.Fatalf("detect: %s %v", src, err)
	}
	set, err := Read(context.Background(), path, learn.KindWinrate, Options{Good: &good})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]bool{}
	for _, s := range set.Samples {
		got[s.ID] = s.Good
	}
	want := map[string]map[string]bool{"r1": {"small": true}, "r2": {"small": false}, "r3": {"large": true}}
	if len(got) != len(want) {
		t.Fatalf("samples %v", got)
	}
	for id, w := range want {
		if len(got[id]) != 1 || got[id][firstKey(w)] != w[firstKey(w)] {
			t.Fatalf("%s: %v, want %v", id, got[id], w)
		}
	}
	if set.Skipped["decisions logged without their request"] != 1 || set.Skipped["decisions without a feedback score"] != 2 {
		t.Fatalf("skipped %v", set.Skipped)
	}
	for _, s := range set.Samples {
		if s.ID == "r1" && s.X.Text != "hello there" {
			t.Fatalf("text %q: want the user's turn only", s.X.Text)
		}
	}

	cset, err := Read(context.Background(), path, learn.KindClassifier, Options{Good: &good})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	for _, s := range cset.Samples {
		labels[s.ID] = s.Label
	}
	if len(labels) != 3 || labels["r1"] != "small" || labels["r3"] != "large" || labels["r7"] != "large" {
		t.Fatalf("classifier labels %v", labels)
	}

	if _, err := Read(context.Background(), path, learn.KindWinrate, Options{}); err == nil || !strings.Contains(err.Error(), "--good") {
		t.Fatalf("without --good: %v", err)
	}
	if _, err := Read(context.Background(), path, learn.KindGate, Options{Good: &good}); err == nil {
		t.Fatal("a gate from a decision log")
	}
}

func firstKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}
