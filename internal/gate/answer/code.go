package answer

import "strings"

// Block is one fenced code block of an answer.
type Block struct {
	// Lang is the first word of the fence's info string, lower-case
	// ("go", "python", "json"); "" when none.
	Lang string
	Code string
	// Closed is false for a block still open at the end of the text (a
	// truncated answer).
	Closed bool
}

// Blocks returns the fenced code blocks of text in order: a fence is a
// line of at least three backticks or tildes, indented by at most three
// spaces, closed by a line of at least as many of the same character.
func Blocks(text string) []Block {
	var out []Block
	var cur *Block
	var fence string
	var code strings.Builder
	for line := range strings.Lines(text) {
		l := strings.TrimRight(line, "\r\n")
		t := strings.TrimLeft(l, " ")
		indent := len(l) - len(t)
		if cur == nil {
			if indent <= 3 && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")) {
				ch := t[0]
				n := 0
				for n < len(t) && t[n] == ch {
					n++
				}
				info := strings.TrimSpace(t[n:])
				if ch == '`' && strings.Contains(info, "`") {
					continue // inline code, not a fence
				}
				lang, _, _ := strings.Cut(info, " ")
				cur = &Block{Lang: strings.ToLower(strings.Trim(lang, "{}."))}
				fence = t[:n]
				code.Reset()
			}
			continue
		}
		if indent <= 3 && strings.HasPrefix(t, fence) && strings.TrimSpace(strings.TrimLeft(t, fence[:1])) == "" {
			cur.Code, cur.Closed = code.String(), true
			out = append(out, *cur)
			cur = nil
			continue
		}
		code.WriteString(l)
		code.WriteByte('\n')
	}
	if cur != nil {
		cur.Code = code.String()
		out = append(out, *cur)
	}
	return out
}

// StripFence returns text without a code fence around it: when the
// trimmed text starts with a fence line (```json), the content of that
// first block; otherwise the trimmed text.
func StripFence(text string) string {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "```") && !strings.HasPrefix(t, "~~~") {
		return t
	}
	if bs := Blocks(t); len(bs) > 0 {
		return strings.TrimSpace(bs[0].Code)
	}
	return t
}
