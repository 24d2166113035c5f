package judge

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
	"github.com/sextant-router/sextant/internal/llm"
)

var models = map[string]*catalog.Model{"gpt-4": gatetest.Model("gpt-4", "openai")}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "empty.txt"), []byte("  \n"), 0o644)
	b := gatetest.Builder{Models: models, Dir: dir}
	for _, tt := range []struct{ cfg, want string }{
		{`"judge"`, "g.judge.model: required"},
		{`{"judge":{"model":"nope"}}`, `g.judge.model: unknown model "nope"`},
		{`{"judge":{"model":"gpt-4","rubric":"x","rubric_file":"y"}}`, "g.judge.rubric_file: set rubric or rubric_file"},
		{`{"judge":{"model":"gpt-4","rubric_file":"missing.txt"}}`, "g.judge.rubric_file:"},
		{`{"judge":{"model":"gpt-4","rubric_file":"empty.txt"}}`, "the file is empty"},
		{`{"judge":{"model":"gpt-4","max_tokens":3}}`, "g.judge.max_tokens: must be at least 16"},
		{`{"judge":{"model":"gpt-4","temperature":-1}}`, "g.judge.temperature"},
	} {
		if _, err := gate.Build(b, "g", json.RawMessage(tt.cfg)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestParseRating(t *testing.T) {
	tests := []struct {
		reply string
		want  float64
		ok    bool
	}{
		{"Good answer. Rating: [[8]]", 8, true},
		{"Rating: [[ 7.5 ]]", 7.5, true},
		{"[[3]] at first, but on reflection [[6]]", 6, true},
		{"Rating: [[8/10]]", 8, true},
		{"Score: 9", 9, true},
		{"My rating is **4**.", 4, true},
		{"I'd give it 6/10.", 6, true},
		{"Overall 7 out of 10.", 7, true},
		{"Rating: [[85]]", 0, false},
		{"Rating: [[0]]", 0, false},
		{"No idea.", 0, false},
		{"It has 3 steps and 10 words.", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRating(tt.reply)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseRating(%q) = %v, %v; want %v, %v", tt.reply, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCheck(t *testing.T) {
	reply := "Correct and clear. Rating: [[9]]"
	var seen *llm.Request
	exec := &gatetest.Exec{Models: models, Chat: func(ctx context.Context, model string, req *llm.Request) (*llm.Response, error) {
		seen = req
		if model != "gpt-4" {
			t.Errorf("judged by %s", model)
		}
		if reply == "" {
			return nil, errors.New("503")
		}
		return gatetest.Response(reply, ""), nil
	}}
	g, err := gate.Build(gatetest.Builder{Models: models}, "g", json.RawMessage(`{"judge":{"model":"gpt-4","rubric":"Be strict."}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := gatetest.Call("What is 2+2?", "", exec)
	v, err := g.Check(context.Background(), c, gatetest.Answer(c, "4"))
	if err != nil || !v.Pass || v.Score != 8.0/9 || v.Metrics["rating"] != 9 {
		t.Fatalf("verdict %+v, %v", v, err)
	}
	if seen.Messages[0].Content != "Be strict." || !strings.Contains(seen.Messages[1].Content, "[Question]\nWhat is 2+2?") ||
		!strings.Contains(seen.Messages[1].Content, "[The Start of the Answer]\n4\n") || *seen.Temperature != 0 {
		t.Fatalf("judge request %+v", seen)
	}
	reply = "Wrong. Rating: [[2]]"
	if v, _ := g.Check(context.Background(), c, gatetest.Answer(c, "5")); v.Pass || v.Score != 1.0/9 {
		t.Fatalf("verdict %+v", v)
	}
	reply = "I cannot rate this."
	if _, err := g.Check(context.Background(), c, gatetest.Answer(c, "5")); err == nil || !strings.Contains(err.Error(), "gave no rating") {
		t.Fatalf("err = %v", err)
	}
	reply = ""
	if _, err := g.Check(context.Background(), c, gatetest.Answer(c, "5")); err == nil {
		t.Fatal("failed judge call gave no error")
	}
	a := gatetest.Answer(c, "4")
	a.Partial = true
	if v, _ := g.Check(context.Background(), c, a); !v.Skipped {
		t.Fatalf("partial: %+v", v)
	}
}

func TestPrompt(t *testing.T) {
	req := &llm.Request{Messages: []llm.Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "Write a haiku."},
		{Role: "assistant", Content: "Old pond..."},
		{Role: "user", Content: "Now a limerick."},
	}}
	p := Prompt(req, "There once was...")
	for _, want := range []string{"[Conversation so far]\nsystem: Be brief.\nuser: Write a haiku.\nassistant: Old pond...\n", "[Question]\nNow a limerick.", "There once was..."} {
		if !strings.Contains(p, want) {
			t.Errorf("prompt lacks %q:\n%s", want, p)
		}
	}
	if p := Prompt(nil, "x"); !strings.Contains(p, "[Question]\n\n") {
		t.Errorf("nil request prompt %q", p)
	}
}
