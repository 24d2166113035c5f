package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	gsmLine  = `{"id":"gsm8k/0001","dataset":"gsm8k","category":"gsm8k","prompt":[{"role":"user","content":"A robe takes 2 bolts?"}],"reference":"2+1=3\n#### 3","reference_final":"3","contaminated":true,"models":{"strong":{"correct":true,"quality":1.0,"response":["3 bolts."]},"weak":{"correct":false,"quality":0.0,"response":["4"]}},"source":{"repo":"r","path":"p.csv","row":1,"reference_path":"t.jsonl"}}`
	mmluLine = `{"id":"mmlu/anatomy/0000","dataset":"mmlu","category":"anatomy","prompt":[{"role":"user","content":"Which bone?\nA. a\nB. b\nAnswer:"}],"reference":null,"contaminated":false,"models":{"strong":{"correct":true,"quality":1.0}},"source":{"repo":"r","path":"m.csv","row":0}}`
	mtLine   = `{"id":"mt_bench/81","dataset":"mt_bench","category":"writing","prompt":[{"role":"user","content":"Write a  blog post."},{"role":"user","content":"Rewrite it."}],"reference":["ref one",null],"contaminated":false,"models":{"strong":{"score":9.5,"quality":9.5,"turn_scores":[10.0,9.0],"response":["Post.","Rewritten."]}},"routers":{"martian":{"score":5.5,"turn_scores":[6.0,5.0],"response":["a","b"],"model_id":"router","source":{"repo":"r","answers_path":"a.jsonl","judgements_path":"j.jsonl"}}},"source":{"repo":"r","path":"q.jsonl","question_id":81,"judgements_path":"j.jsonl"},"future_field":{"x":1}}`
)

func ptr[T any](v T) *T { return &v }

func TestLoad(t *testing.T) {
	recs, err := Load(strings.NewReader(gsmLine + "\n\n" + mmluLine + "\r\n" + mtLine))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	want := Record{
		ID: "gsm8k/0001", Dataset: "gsm8k", Category: "gsm8k",
		Prompt:         []Turn{{Role: "user", Content: "A robe takes 2 bolts?"}},
		Reference:      Reference{"2+1=3\n#### 3"},
		ReferenceFinal: "3",
		Contaminated:   true,
		Models: map[string]ModelAnswer{
			"strong": {Correct: ptr(true), Quality: ptr(1.0), Response: []string{"3 bolts."}},
			"weak":   {Correct: ptr(false), Quality: ptr(0.0), Response: []string{"4"}},
		},
		Source: Source{Repo: "r", Path: "p.csv", Row: ptr(1), ReferencePath: "t.jsonl"},
	}
	if !reflect.DeepEqual(recs[0], want) {
		t.Errorf("gsm8k record:\n got %+v\nwant %+v", recs[0], want)
	}
	if recs[1].Reference != nil || recs[1].Models["strong"].Response != nil {
		t.Errorf("mmlu record: reference %v, response %v; want both nil", recs[1].Reference, recs[1].Models["strong"].Response)
	}
	mt := recs[2]
	if got := mt.UserTurns(); !reflect.DeepEqual(got, []string{"Write a  blog post.", "Rewrite it."}) {
		t.Errorf("UserTurns = %q", got)
	}
	if !reflect.DeepEqual(mt.Reference, Reference{"ref one", ""}) {
		t.Errorf("mt_bench reference = %q", mt.Reference)
	}
	if s := mt.Models["strong"]; *s.Score != 9.5 || !reflect.DeepEqual(s.TurnScores, []float64{10, 9}) {
		t.Errorf("mt_bench scores = %v %v", *s.Score, s.TurnScores)
	}
	if r := mt.Routers["martian"]; r.ModelID != "router" || r.Source.AnswersPath != "a.jsonl" || len(r.Response) != 2 {
		t.Errorf("router answer = %+v", r)
	}
	if *mt.Source.QuestionID != 81 {
		t.Errorf("question_id = %v", *mt.Source.QuestionID)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		line  int
		msg   string
	}{
		{"bad json", gsmLine + "\n{not json}\n", 2, "invalid character"},
		{"no id", `{"prompt":[{"role":"user","content":"x"}]}`, 1, "no id"},
		{"no prompt", `{"id":"a"}`, 1, "no prompt turns"},
		{"empty turn", `{"id":"a","prompt":[{"role":"user","content":"  "}]}`, 1, "prompt turn 0 is empty"},
		{"assistant turn", `{"id":"a","prompt":[{"role":"assistant","content":"x"}]}`, 1, `role "assistant"`},
		{"duplicate id", gsmLine + "\n" + mmluLine + "\n\n" + gsmLine, 4, `duplicate id "gsm8k/0001" (first at line 1)`},
		{"bad reference", `{"id":"a","prompt":[{"role":"user","content":"x"}],"reference":7}`, 1, "reference: expected"},
		{"wrong type", `{"id":"a","prompt":[{"role":"user","content":"x"}],"contaminated":"yes"}`, 1, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tt.input))
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LineError", err)
			}
			if le.Line != tt.line || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q (line %d), want line %d containing %q", err, le.Line, tt.line, tt.msg)
			}
		})
	}
}

func TestLoadFileNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(path, []byte(gsmLine+"\n{\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2: ") {
		t.Errorf("err = %v, want it to start with %q", err, path+":2: ")
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("data/b.jsonl", mmluLine+"\n")
	write("data/a.jsonl", gsmLine+"\n")
	write("data/notes.json", "not records")
	write("dup/a.jsonl", gsmLine+"\n")
	write("dup/b.jsonl", gsmLine+"\n")
	write("one.jsonl", mtLine+"\n")
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		ids     []string
		wantErr string
	}{
		{name: DemoPath, ids: nil},
		{name: "one.jsonl", ids: []string{"mt_bench/81"}},
		{name: filepath.Join(dir, "one.jsonl"), ids: []string{"mt_bench/81"}},
		{name: "data", ids: []string{"gsm8k/0001", "mmlu/anatomy/0000"}},
		{name: "dup", wantErr: `b.jsonl:1: duplicate id "gsm8k/0001" (first at ` + filepath.Join(dir, "dup", "a.jsonl") + ":1)"},
		{name: "empty", wantErr: "no .jsonl files"},
		{name: "missing.jsonl", wantErr: "no such file"},
		{name: "", wantErr: "no data set named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := Open(tt.name, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == DemoPath {
				if len(recs) != len(Demo()) {
					t.Errorf("got %d records, want the demo's %d", len(recs), len(Demo()))
				}
				return
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.ID)
			}
			if !reflect.DeepEqual(ids, tt.ids) {
				t.Errorf("ids = %q, want %q", ids, tt.ids)
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	recs, err := Load(strings.NewReader(mmluLine + "\n" + mtLine))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		rec   int
		model string
		turn  int
		want  string
		ok    bool
	}{
		{"first turn", 1, "strong", 0, "Post.", true},
		{"second turn", 1, "strong", 1, "Rewritten.", true},
		{"turn past the end", 1, "strong", 2, "", false},
		{"negative turn", 1, "strong", -1, "", false},
		{"unknown model", 1, "weak", 0, "", false},
		{"no response recorded", 0, "strong", 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := recs[tt.rec].Answer(tt.model, tt.turn)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Answer = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if got := ModelNames(recs); !reflect.DeepEqual(got, []string{"strong"}) {
		t.Errorf("ModelNames = %q", got)
	}
}

// FuzzLoad checks that no input makes Load panic and that whatever it
// accepts satisfies the record contract.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{gsmLine, mmluLine, mtLine, gsmLine + "\n" + gsmLine, "", "{}", "\n\n", `{"id":"a","prompt":[{"content":"x"}],"reference":[1]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := Load(strings.NewReader(s))
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error %v is not a line error", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range recs {
			if r.ID == "" || len(r.Prompt) == 0 || seen[r.ID] {
				t.Fatalf("accepted a bad record %+v", r)
			}
			seen[r.ID] = true
		}
	})
}
