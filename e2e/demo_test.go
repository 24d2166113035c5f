package e2e

import (
	"bufio"
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sextant-router/sextant/internal/config"
)

// demoPath is the bundled data set slice the default config replays. The
// tests read it themselves, so the expected answers do not come from the
// code under test.
var demoPath = filepath.Join("..", "internal", "dataset", "demo", "demo.jsonl")

// demoRecord is the part of a data set record the tests need.
type demoRecord struct {
	ID     string `json:"id"`
	Prompt []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"prompt"`
	Models map[string]struct {
		Response []string `json:"response"`
	} `json:"models"`
}

// demoCase is a prompt from the demo slice with the recorded answer of each
// replayed model of the default config, keyed by catalog name.
type demoCase struct {
	ID      string
	Prompt  string
	Answers map[string]string
}

// shortestDemo returns the first-turn prompt whose longest recorded answer
// among the default config's replayed models is the shortest, so that the
// realtime replay of the default config answers it quickly whichever model
// the auto route picks.
func shortestDemo(t *testing.T) demoCase {
	t.Helper()
	upstreams := replayedModels(t)
	f, err := os.Open(demoPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var best demoCase
	bestLen := -1
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r demoRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", demoPath, err)
		}
		if len(r.Prompt) == 0 || r.Prompt[0].Role != "user" {
			continue
		}
		c := demoCase{ID: r.ID, Prompt: r.Prompt[0].Content, Answers: map[string]string{}}
		longest := 0
		for name, upstream := range upstreams {
			resp := r.Models[upstream].Response
			if len(resp) == 0 || resp[0] == "" {
				break
			}
			c.Answers[name] = resp[0]
			longest = max(longest, len(resp[0]))
		}
		if len(c.Answers) == len(upstreams) && (bestLen < 0 || longest < bestLen) {
			best, bestLen = c, longest
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if bestLen < 0 {
		t.Fatalf("%s has no prompt answered by all of %v", demoPath, upstreams)
	}
	return best
}

// replayedModels maps the default config's replay models to the record
// model they replay: record_model, or else their upstream name.
func replayedModels(t *testing.T) map[string]string {
	t.Helper()
	f, err := config.Parse(config.DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range f.Models {
		if m.Provider != "replay" {
			continue
		}
		var opts struct {
			RecordModel string `json:"record_model"`
		}
		if err := json.Unmarshal(m.Options, &opts); err != nil {
			t.Fatalf("model %s: options: %v", m.Name, err)
		}
		out[m.Name] = cmp.Or(opts.RecordModel, m.Upstream)
	}
	if len(out) == 0 {
		t.Fatal("the default config replays no model")
	}
	return out
}
