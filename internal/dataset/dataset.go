// Package dataset reads recorded routing-evaluation data: one JSON object
// per line, each a benchmark prompt (GSM8K, MMLU or MT-Bench) with the
// answers and quality scores that named models gave it. The replay provider
// answers from these records and offline evaluation scores routers against
// them.
//
// Records are read leniently (unknown fields are ignored, so newer files
// still load) but checked for what every user relies on: an id, a prompt,
// and ids unique within one load. Errors name the file and line.
package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Record is one prompt with its recorded answers.
type Record struct {
	// ID is stable across versions of the data: "gsm8k/0001",
	// "mmlu/<subject>/0003", "mt_bench/81".
	ID string `json:"id"`
	// Dataset is "gsm8k", "mmlu" or "mt_bench".
	Dataset string `json:"dataset"`
	// Category is "gsm8k", the MMLU subject, or the MT-Bench category.
	Category string `json:"category"`
	// Prompt holds the user turns in order: one for GSM8K and MMLU, two for
	// MT-Bench, where the second follows the model's own first answer.
	Prompt []Turn `json:"prompt"`
	// Reference holds reference answers: GSM8K's gold solution as one
	// element, MT-Bench's per-turn references where the benchmark has
	// them; nil when there is none.
	Reference Reference `json:"reference"`
	// ReferenceFinal is GSM8K's final number (after "####"); "" otherwise.
	ReferenceFinal string `json:"reference_final,omitempty"`
	// Contaminated marks prompts that RouteLLM removes from evaluation
	// (near-duplicates of its router training data).
	Contaminated bool `json:"contaminated"`
	// Models maps a model name to its recorded answer and its quality.
	Models map[string]ModelAnswer `json:"models"`
	// Routers maps a commercial router's name to its answers (MT-Bench
	// only).
	Routers map[string]RouterAnswer `json:"routers,omitempty"`
	// Source says where the record came from.
	Source Source `json:"source"`
}

// Turn is one user turn of a prompt.
type Turn struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ModelAnswer is what one model answered and how good it was. Fields the
// source did not record are nil.
type ModelAnswer struct {
	// Quality is 1 or 0 for GSM8K and MMLU (correct or not) and the judge's
	// mean 1-10 score for MT-Bench.
	Quality *float64 `json:"quality,omitempty"`
	// Correct is set for GSM8K and MMLU.
	Correct *bool `json:"correct,omitempty"`
	// Score is the MT-Bench judge's mean score over the turns.
	Score *float64 `json:"score,omitempty"`
	// TurnScores are the MT-Bench judge's per-turn scores.
	TurnScores []float64 `json:"turn_scores,omitempty"`
	// Response is the answer text, one string per prompt turn; nil where
	// the source recorded no text (MMLU).
	Response []string `json:"response,omitempty"`
}

// RouterAnswer is a commercial router's recorded answers and judge scores.
type RouterAnswer struct {
	ModelID    string    `json:"model_id,omitempty"`
	Score      *float64  `json:"score,omitempty"`
	TurnScores []float64 `json:"turn_scores,omitempty"`
	Response   []string  `json:"response,omitempty"`
	Source     Source    `json:"source"`
}

// Source locates a record, or a router's answers, in the upstream
// repository. Only the fields that apply are set.
type Source struct {
	Repo           string `json:"repo,omitempty"`
	Path           string `json:"path,omitempty"`
	Row            *int   `json:"row,omitempty"`
	QuestionID     *int   `json:"question_id,omitempty"`
	ReferencePath  string `json:"reference_path,omitempty"`
	AnswersPath    string `json:"answers_path,omitempty"`
	JudgementsPath string `json:"judgements_path,omitempty"`
}

// Reference is a list of reference answers. It reads JSON null, a single
// string (GSM8K: one element) or a list of strings (MT-Bench: one per turn).
type Reference []string

// UnmarshalJSON reads null, a string or a list of strings.
func (r *Reference) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*r = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = Reference{s}
		return nil
	}
	var list []*string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("reference: expected null, a string or a list of strings")
	}
	out := make(Reference, len(list))
	for i, s := range list {
		if s != nil {
			out[i] = *s
		}
	}
	*r = out
	return nil
}

// UserTurns returns the contents of the prompt's turns, in order.
func (r *Record) UserTurns() []string {
	out := make([]string, len(r.Prompt))
	for i, t := range r.Prompt {
		out[i] = t.Content
	}
	return out
}

// Answer returns model's recorded answer to prompt turn turn (0-based), and
// whether there is one: false when the model, the turn or the text is
// missing or the text is empty.
func (r *Record) Answer(model string, turn int) (string, bool) {
	m, ok := r.Models[model]
	if !ok || turn < 0 || turn >= len(m.Response) || m.Response[turn] == "" {
		return "", false
	}
	return m.Response[turn], true
}

// ModelNames returns the names of the models that any of records has an
// entry for, sorted.
func ModelNames(records []Record) []string {
	seen := map[string]bool{}
	for i := range records {
		for name := range records[i].Models {
			seen[name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// LineError is a fault in one line of a data file.
type LineError struct {
	Path string // file name, "" when reading a plain io.Reader
	Line int    // 1-based
	Err  error
}

func (e *LineError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// maxLine bounds one record; the largest real record is about 25 KB.
const maxLine = 16 << 20

// Load reads records, one JSON object per line, from r. Blank lines are
// skipped. It fails on the first bad line with a *LineError: invalid JSON, a
// record without id or prompt, or an id seen before.
func Load(r io.Reader) ([]Record, error) {
	var l loader
	if err := l.read(r, ""); err != nil {
		return nil, err
	}
	return l.records, nil
}

// LoadFile reads the records of the file at path; see Load.
func LoadFile(path string) ([]Record, error) {
	var l loader
	if err := l.readFile(path); err != nil {
		return nil, err
	}
	return l.records, nil
}

// Open loads the data set that config names: DemoPath for the bundled demo
// slice, a .jsonl file, or a directory whose *.jsonl files are read in name
// order as one data set (ids must be unique across them). A relative name
// resolves against baseDir. The demo records are shared: callers must not
// modify them.
func Open(name, baseDir string) ([]Record, error) {
	if name == DemoPath {
		return Demo(), nil
	}
	if name == "" {
		return nil, errors.New("no data set named")
	}
	path := Resolve(name, baseDir)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var l loader
	if !fi.IsDir() {
		if err := l.readFile(path); err != nil {
			return nil, err
		}
		return l.records, nil
	}
	files, err := filepath.Glob(filepath.Join(path, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no .jsonl files in the directory", path)
	}
	sort.Strings(files)
	for _, f := range files {
		if err := l.readFile(f); err != nil {
			return nil, err
		}
	}
	return l.records, nil
}

// Resolve returns the file path that name denotes relative to baseDir;
// absolute names and DemoPath are returned unchanged.
func Resolve(name, baseDir string) string {
	if name == DemoPath || filepath.IsAbs(name) || baseDir == "" {
		return name
	}
	return filepath.Join(baseDir, name)
}

// loader accumulates records over one or more files, checking that ids are
// unique across all of them.
type loader struct {
	records []Record
	seen    map[string]string // id -> "file:line" of its first occurrence
}

func (l *loader) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return l.read(f, path)
}

func (l *loader) read(r io.Reader, path string) error {
	if l.seen == nil {
		l.seen = map[string]string{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		fail := func(err error) error { return &LineError{Path: path, Line: line, Err: err} }
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return fail(err)
		}
		if err := rec.check(); err != nil {
			return fail(err)
		}
		where := fmt.Sprintf("line %d", line)
		if path != "" {
			where = fmt.Sprintf("%s:%d", path, line)
		}
		if first, dup := l.seen[rec.ID]; dup {
			return fail(fmt.Errorf("duplicate id %q (first at %s)", rec.ID, first))
		}
		l.seen[rec.ID] = where
		l.records = append(l.records, rec)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &LineError{Path: path, Line: line + 1, Err: fmt.Errorf("line longer than %d bytes", maxLine)}
		}
		if path != "" {
			return fmt.Errorf("%s: %w", path, err)
		}
		return err
	}
	return nil
}

// check validates what every user of a record relies on.
func (r *Record) check() error {
	if strings.TrimSpace(r.ID) == "" {
		return errors.New("record has no id")
	}
	if len(r.Prompt) == 0 {
		return fmt.Errorf("record %q has no prompt turns", r.ID)
	}
	for i, t := range r.Prompt {
		if t.Role != "" && t.Role != "user" {
			return fmt.Errorf("record %q: prompt turn %d has role %q, want user", r.ID, i, t.Role)
		}
		if strings.TrimSpace(t.Content) == "" {
			return fmt.Errorf("record %q: prompt turn %d is empty", r.ID, i)
		}
	}
	return nil
}
