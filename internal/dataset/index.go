package dataset

import "strings"

// Index finds records by their prompt or id. It is read-only after
// NewIndex and safe for concurrent use.
type Index struct {
	byPrompt map[string]match
	byID     map[string]*Record
}

type match struct {
	rec  *Record
	turn int
}

// NewIndex indexes records by id and by every prefix of their user turns, so
// that a conversation that has reached turn k of a record is found. It keeps
// pointers into records: the caller must not modify or reorder them
// afterwards. When two records share a prompt (MMLU repeats some questions
// across subjects) the first one wins.
func NewIndex(records []Record) *Index {
	ix := &Index{
		byPrompt: make(map[string]match, len(records)),
		byID:     make(map[string]*Record, len(records)),
	}
	for i := range records {
		rec := &records[i]
		if _, dup := ix.byID[rec.ID]; !dup {
			ix.byID[rec.ID] = rec
		}
		var key strings.Builder
		for turn, t := range rec.Prompt {
			if turn > 0 {
				key.WriteByte(turnSep)
			}
			key.WriteString(Normalize(t.Content))
			k := key.String()
			if _, dup := ix.byPrompt[k]; !dup {
				ix.byPrompt[k] = match{rec: rec, turn: turn}
			}
		}
	}
	return ix
}

// turnSep separates turns in a prompt key; normalized text never holds it.
const turnSep = 0

// Lookup finds the record whose first len(userTurns) prompt turns equal
// userTurns after whitespace normalization (see Normalize), and returns it
// with turn, the 0-based index of the last of them: the turn whose recorded
// answer continues the conversation. A two-turn MT-Bench conversation
// yields turn 1; its first turn alone yields turn 0.
func (ix *Index) Lookup(userTurns []string) (rec *Record, turn int, ok bool) {
	if ix == nil || len(userTurns) == 0 {
		return nil, 0, false
	}
	var key strings.Builder
	for i, t := range userTurns {
		if i > 0 {
			key.WriteByte(turnSep)
		}
		key.WriteString(Normalize(t))
	}
	m, ok := ix.byPrompt[key.String()]
	if !ok {
		return nil, 0, false
	}
	return m.rec, m.turn, true
}

// ByID returns the record with id.
func (ix *Index) ByID(id string) (*Record, bool) {
	if ix == nil {
		return nil, false
	}
	rec, ok := ix.byID[id]
	return rec, ok
}

// Len returns the number of records indexed by id.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return len(ix.byID)
}

// Normalize returns s with leading and trailing white space removed and every
// inner run of white space (spaces, tabs, newlines, any Unicode space)
// replaced by one space, so that prompts match however a client re-flowed
// them. Case and punctuation are kept. NUL bytes are dropped.
func Normalize(s string) string {
	if strings.IndexByte(s, turnSep) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, f := range strings.Fields(s) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f)
	}
	return b.String()
}
