package features

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanner reads the user's messages line by line, one pass over each, and
// accumulates the content features.
type scanner struct {
	code, math, multiStep bool
	questions             int
	langs                 []string

	// Per message.
	inFence   bool
	codeLines int // lines outside fences that end like code
	listNext  int // the number the next item of a numbered list must have
	sawFirst  bool
	prev      [2]wordKind // the last two words, for "step by step"
	scripts   [nScripts]int

	// Per line: arithmetic state (see operand and operator).
	arith arithState
}

// message scans one user message and returns its length in runes.
func (sc *scanner) message(text string) int {
	sc.inFence, sc.codeLines, sc.listNext, sc.sawFirst = false, 0, 0, false
	sc.prev = [2]wordKind{}
	sc.scripts = [nScripts]int{}
	runes := 0
	for {
		line, rest, found := strings.Cut(text, "\n")
		runes += sc.line(line)
		if !found {
			break
		}
		runes++ // the line break
		text = rest
	}
	return runes
}

func (sc *scanner) line(line string) int {
	trimmed := strings.TrimLeft(line, " \t")
	if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
		if !sc.inFence {
			sc.code = true
			sc.fenceInfo(trimmed[3:])
		}
		sc.inFence = !sc.inFence
		return utf8.RuneCountInString(line)
	}
	sc.markers(trimmed)
	if sc.inFence {
		return utf8.RuneCountInString(line)
	}
	sc.listItem(trimmed)
	return sc.words(line)
}

// fenceInfo records the language of a fence's info string (```python,
// ```{.js}, ```c++ title="x").
func (sc *scanner) fenceInfo(info string) {
	info = strings.TrimLeft(strings.TrimSpace(info), "{.")
	if i := strings.IndexAny(info, " \t,{}`"); i >= 0 {
		info = info[:i]
	}
	if info == "" || len(info) > 20 {
		return
	}
	lang := strings.ToLower(info)
	for _, r := range lang {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("+#._-", r)) {
			return
		}
	}
	if a, ok := langAlias[lang]; ok {
		lang = a
	}
	switch lang {
	case "", "text", "txt", "plaintext", "plain", "output", "none":
		return
	case "latex", "tex", "math":
		sc.math = true
	}
	sc.addLang(lang)
}

var langAlias = map[string]string{
	"py": "python", "python3": "python", "py3": "python", "ipython": "python",
	"js": "javascript", "jsx": "javascript", "node": "javascript", "mjs": "javascript",
	"ts": "typescript", "tsx": "typescript",
	"sh": "shell", "bash": "shell", "zsh": "shell", "console": "shell", "shell-session": "shell",
	"c++": "cpp", "cc": "cpp", "cxx": "cpp", "hpp": "cpp", "h": "c",
	"cs": "csharp", "c#": "csharp", "golang": "go", "rs": "rust", "rb": "ruby",
	"kt": "kotlin", "yml": "yaml", "ps1": "powershell", "pwsh": "powershell",
	"md": "markdown", "tex": "latex", "objc": "objective-c", "postgresql": "sql",
	"mysql": "sql", "psql": "sql", "sqlite": "sql", "hs": "haskell", "ex": "elixir",
	"exs": "elixir", "pl": "perl", "jl": "julia", "dockerfile": "docker",
}

func (sc *scanner) addLang(lang string) {
	for _, l := range sc.langs {
		if l == lang {
			return
		}
	}
	sc.langs = append(sc.langs, lang)
}

// A codeMarker is a strong sign of code: a line that starts with prefix and
// holds also (when set) is code in lang (when set).
type codeMarker struct{ prefix, also, lang string }

var codeMarkers = []codeMarker{
	{"#include <", "", "c"},
	{"#include \"", "", "c"},
	{"#!/bin/", "", "shell"},
	{"#!/usr/bin/env python", "", "python"},
	{"#!/usr/bin/env ", "", "shell"},
	{"def ", "):", "python"},
	{"from ", " import ", "python"},
	{"package main", "", "go"},
	{"func ", ") {", "go"},
	{"fn ", ") {", "rust"},
	{"fn main()", "", "rust"},
	{"let mut ", "=", "rust"},
	{"public static void ", "(", "java"},
	{"System.out.println(", "", "java"},
	{"console.log(", "", "javascript"},
	{"function ", ") {", "javascript"},
	{"<?php", "", "php"},
	{"using System", ";", "csharp"},
	{"SELECT ", " FROM ", "sql"},
	{"INSERT INTO ", "", "sql"},
	{"CREATE TABLE ", "", "sql"},
	{"<!DOCTYPE html", "", "html"},
	{"<html", "", "html"},
}

// markers looks for strong code markers at the start of a trimmed line and
// counts lines that end like code.
func (sc *scanner) markers(trimmed string) {
	if trimmed == "" {
		return
	}
	for i := range codeMarkers {
		m := &codeMarkers[i]
		if strings.HasPrefix(trimmed, m.prefix) && (m.also == "" || strings.Contains(trimmed, m.also)) {
			sc.code = true
			if m.lang != "" {
				sc.addLang(m.lang)
			}
			return
		}
	}
	if sc.inFence {
		return
	}
	switch trimmed[len(trimmed)-1] {
	case ';', '{', '}':
		sc.codeLines++
		if sc.codeLines >= 3 {
			sc.code = true
		}
	}
}

// listItem follows numbered lists: "1." or "1)" then "2." or "2)" marks
// the message multi-step.
func (sc *scanner) listItem(trimmed string) {
	n, i := 0, 0
	for i < len(trimmed) && i < 3 && trimmed[i] >= '0' && trimmed[i] <= '9' {
		n = n*10 + int(trimmed[i]-'0')
		i++
	}
	if i == 0 || i+1 >= len(trimmed) || (trimmed[i] != '.' && trimmed[i] != ')') || trimmed[i+1] != ' ' {
		return
	}
	switch {
	case n == 1:
		sc.listNext = 2
	case n == sc.listNext && n > 1:
		sc.multiStep = true
		sc.listNext++
	}
}

// wordKind names the words the scanner reacts to.
type wordKind uint8

const (
	wordOther wordKind = iota
	wordQuestion
	wordStep
	wordBy
	wordFirst
	wordThen
)

// kindOf classifies an ASCII word, ignoring case. A switch on length
// beats hashing every word of the text into a map.
func kindOf(w string) wordKind {
	is := func(words ...string) bool {
		for _, x := range words {
			if strings.EqualFold(w, x) {
				return true
			}
		}
		return false
	}
	switch len(w) {
	case 2:
		if is("by") {
			return wordBy
		}
	case 3:
		if is("why", "how", "who") {
			return wordQuestion
		}
	case 4:
		switch {
		case is("what", "when", "whom"):
			return wordQuestion
		case is("step"):
			return wordStep
		case is("then", "next"):
			return wordThen
		}
	case 5:
		switch {
		case is("where", "whose", "which"):
			return wordQuestion
		case is("first"):
			return wordFirst
		}
	case 7:
		switch {
		case is("firstly"):
			return wordFirst
		case is("finally"):
			return wordThen
		}
	case 10:
		if is("afterwards") {
			return wordThen
		}
	}
	return wordOther
}

func (sc *scanner) word(w string, ascii bool) {
	if ascii && len(w) == 1 {
		sc.arith.operand(sc)
	} else {
		sc.arith.reset()
	}
	k := wordOther
	if ascii {
		k = kindOf(w)
	}
	switch k {
	case wordQuestion:
		sc.questions++
	case wordStep:
		if sc.prev[0] == wordBy && sc.prev[1] == wordStep {
			sc.multiStep = true
		}
	case wordFirst:
		sc.sawFirst = true
	case wordThen:
		if sc.sawFirst {
			sc.multiStep = true
		}
	}
	sc.prev[1], sc.prev[0] = sc.prev[0], k
}

// arithState spots operand, operator, operand on one line, where an
// operand is a number or a one-letter ASCII word.
type arithState uint8

const (
	arithNone arithState = iota
	arithOperand
	arithOperator
)

func (a *arithState) operand(sc *scanner) {
	if *a == arithOperator {
		sc.math = true
	}
	*a = arithOperand
}

func (a *arithState) operator() {
	if *a == arithOperand {
		*a = arithOperator
	} else {
		*a = arithNone
	}
}

func (a *arithState) reset() { *a = arithNone }

// latexCommands are LaTeX commands that mark mathematics.
var latexCommands = map[string]bool{
	"frac": true, "dfrac": true, "sqrt": true, "sum": true, "int": true, "iint": true,
	"prod": true, "lim": true, "infty": true, "partial": true, "nabla": true,
	"alpha": true, "beta": true, "gamma": true, "delta": true, "theta": true,
	"lambda": true, "sigma": true, "pi": true, "cdot": true, "times": true,
	"leq": true, "geq": true, "neq": true, "approx": true, "mathbb": true,
	"mathrm": true, "binom": true, "log": true, "sin": true, "cos": true,
	"begin": true, "left": true, "right": true, "vec": true, "hat": true,
}

// words scans a line outside code fences: words, numbers, operators,
// LaTeX and scripts. It returns the line's length in runes.
func (sc *scanner) words(line string) int {
	sc.arith.reset()
	runes := 0
	for i := 0; i < len(line); {
		c := line[i]
		if c < utf8.RuneSelf {
			runes++
			switch {
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				j := i + 1
				for j < len(line) && (line[j] >= 'a' && line[j] <= 'z' || line[j] >= 'A' && line[j] <= 'Z') {
					j++
				}
				if j < len(line) && line[j] >= utf8.RuneSelf {
					// A word that goes on in non-ASCII letters (café).
					j2 := j
					for j2 < len(line) {
						r, w := utf8.DecodeRuneInString(line[j2:])
						if !unicode.IsLetter(r) {
							break
						}
						j2 += w
						runes++
						sc.scripts[scriptOf(r)]++
					}
					if j2 > j {
						sc.scripts[scriptLatin] += j - i
						runes += j - i - 1
						sc.word(line[i:j2], false)
						i = j2
						continue
					}
				}
				sc.scripts[scriptLatin] += j - i
				runes += j - i - 1
				sc.word(line[i:j], true)
				i = j
				continue
			case c >= '0' && c <= '9':
				j := i + 1
				for j < len(line) && (line[j] >= '0' && line[j] <= '9' ||
					(line[j] == '.' || line[j] == ',') && j+1 < len(line) && line[j+1] >= '0' && line[j+1] <= '9') {
					j++
				}
				runes += j - i - 1
				sc.arith.operand(sc)
				sc.prev[1], sc.prev[0] = sc.prev[0], wordOther
				i = j
				continue
			case c == ' ' || c == '\t' || c == '\r':
			case c == '+' || c == '*' || c == '^' || c == '=':
				if c == '*' && i+1 < len(line) && line[i+1] == '*' {
					sc.arith.reset() // **bold** or a power: leave it
				} else {
					sc.arith.operator()
				}
			case c == '-' || c == '/':
				if i > 0 && line[i-1] == ' ' && i+1 < len(line) && line[i+1] == ' ' {
					sc.arith.operator()
				} else {
					sc.arith.reset()
				}
			case c == '\\':
				j := i + 1
				for j < len(line) && line[j] >= 'a' && line[j] <= 'z' {
					j++
				}
				if latexCommands[line[i+1:j]] {
					sc.math = true
				}
				runes += j - i - 1
				sc.arith.reset()
				i = j
				continue
			case c == '$':
				if i+1 < len(line) && line[i+1] == '$' {
					sc.math = true
				}
				sc.arith.reset()
			default:
				sc.arith.reset()
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(line[i:])
		runes++
		switch {
		case unicode.IsLetter(r):
			j := i + w
			sc.scripts[scriptOf(r)]++
			for j < len(line) {
				r2, w2 := utf8.DecodeRuneInString(line[j:])
				if !unicode.IsLetter(r2) {
					break
				}
				sc.scripts[scriptOf(r2)]++
				runes++
				j += w2
			}
			sc.word(line[i:j], false)
			i = j
			continue
		case mathSymbol(r):
			sc.math = true
			if r == '×' || r == '÷' || r == '·' || r == '−' {
				sc.arith.operator()
			}
		case unicode.IsSpace(r):
		default:
			sc.arith.reset()
		}
		i += w
	}
	return runes
}

func mathSymbol(r rune) bool {
	switch r {
	case '×', '÷', '−', '±', '√', '∑', '∏', '∫', '∂', '∇', '∞', '≤', '≥', '≠', '≈', '≡', '∈', '∉', '∀', '∃', '⊂', '⊆', '∪', '∩', '∆':
		return true
	}
	return false
}

// Scripts, indexed by scriptOf.
const (
	scriptOther = iota
	scriptLatin
	scriptCyrillic
	scriptGreek
	scriptArmenian
	scriptGeorgian
	scriptHebrew
	scriptArabic
	scriptDevanagari
	scriptBengali
	scriptTamil
	scriptThai
	scriptHangul
	scriptKana
	scriptHan
	nScripts
)

var scriptNames = [nScripts]string{
	scriptOther: LangOther, scriptLatin: LangLatin, scriptCyrillic: LangCyrillic,
	scriptGreek: LangGreek, scriptArmenian: LangArmenian, scriptGeorgian: LangGeorgian,
	scriptHebrew: LangHebrew, scriptArabic: LangArabic, scriptDevanagari: LangDevanagari,
	scriptBengali: LangBengali, scriptTamil: LangTamil, scriptThai: LangThai,
	scriptHangul: LangHangul, scriptKana: LangKana, scriptHan: LangHan,
}

// scriptOf maps a letter to its script by Unicode block, cheaper than the
// unicode package's script tables and enough for a dominant-script vote.
func scriptOf(r rune) int {
	switch {
	case r < 0x0250 || r >= 0x1E00 && r < 0x1F00:
		return scriptLatin
	case r >= 0x0370 && r < 0x0400 || r >= 0x1F00 && r < 0x2000:
		return scriptGreek
	case r >= 0x0400 && r < 0x0530:
		return scriptCyrillic
	case r >= 0x0530 && r < 0x0590:
		return scriptArmenian
	case r >= 0x0590 && r < 0x0600:
		return scriptHebrew
	case r >= 0x0600 && r < 0x0780 || r >= 0x08A0 && r < 0x0900 || r >= 0xFB50 && r < 0xFE00 || r >= 0xFE70 && r < 0xFF00:
		return scriptArabic
	case r >= 0x0900 && r < 0x0980:
		return scriptDevanagari
	case r >= 0x0980 && r < 0x0A00:
		return scriptBengali
	case r >= 0x0B80 && r < 0x0C00:
		return scriptTamil
	case r >= 0x0E00 && r < 0x0E80:
		return scriptThai
	case r >= 0x10A0 && r < 0x1100:
		return scriptGeorgian
	case r >= 0x1100 && r < 0x1200 || r >= 0x3130 && r < 0x3190 || r >= 0xAC00 && r < 0xD7B0:
		return scriptHangul
	case r >= 0x3040 && r < 0x3100 || r >= 0x31F0 && r < 0x3200 || r >= 0xFF66 && r < 0xFFA0:
		return scriptKana
	case r >= 0x3400 && r < 0xA000 || r >= 0xF900 && r < 0xFB00 || r >= 0x20000 && r < 0x32000:
		return scriptHan
	case r >= 0xFF21 && r < 0xFF5B: // full-width Latin
		return scriptLatin
	}
	return scriptOther
}

// language returns the dominant script of the last scanned message.
func (sc *scanner) language() string {
	counts := sc.scripts
	// Japanese writes kana among Han characters; Chinese has no kana.
	if counts[scriptKana] > 0 && counts[scriptKana]*10 >= counts[scriptHan] {
		counts[scriptKana] += counts[scriptHan]
		counts[scriptHan] = 0
	}
	best, n := -1, 0
	for i, c := range counts {
		if c > n {
			best, n = i, c
		}
	}
	if best < 0 {
		return LangNone
	}
	return scriptNames[best]
}
