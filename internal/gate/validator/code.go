package validator

import (
	"encoding/json"
	"errors"
	"go/parser"
	"go/scanner"
	"go/token"
	"strings"
)

// Builtin languages, checked in process.
const (
	LangGo   = "go"
	LangJSON = "json"
)

// langAlias folds fence info strings onto one language name.
var langAlias = map[string]string{
	"golang": "go", "py": "python", "python3": "python", "py3": "python",
	"js": "javascript", "node": "javascript", "mjs": "javascript", "jsx": "javascript",
	"ts": "typescript", "sh": "shell", "bash": "shell", "zsh": "shell",
	"c++": "cpp", "cc": "cpp", "cxx": "cpp", "rs": "rust", "rb": "ruby",
	"postgresql": "sql", "mysql": "sql", "sqlite": "sql", "psql": "sql", "yml": "yaml",
}

// Lang returns the canonical name of a fence's language.
func Lang(l string) string {
	l = strings.ToLower(strings.TrimSpace(l))
	if a, ok := langAlias[l]; ok {
		return a
	}
	return l
}

// checkJSON reports why code is not one JSON value, or nil.
func checkJSON(code string) error {
	if json.Valid([]byte(code)) {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(code), &v); err != nil {
		return err
	}
	return errors.New("invalid JSON")
}

// checkGo reports why code does not parse as Go, or nil. A snippet
// without a package clause is tried as top-level declarations and then as
// the statements of a function body, so answers that show a function or a
// few lines are judged fairly; the error is the one for the first reading.
func checkGo(code string) error {
	const mode = parser.SkipObjectResolution
	fset := token.NewFileSet()
	_, err := parser.ParseFile(fset, "", code, mode)
	if err == nil || hasPackageClause(code) {
		return firstError(err)
	}
	if _, err2 := parser.ParseFile(fset, "", "package p\n"+code, mode); err2 == nil {
		return nil
	} else {
		err = err2
	}
	if _, err3 := parser.ParseFile(fset, "", "package p\nfunc _() {\n"+code+"\n}", mode); err3 == nil {
		return nil
	}
	return firstError(err)
}

// hasPackageClause reports whether the first word outside comments is
// "package".
func hasPackageClause(code string) bool {
	var s scanner.Scanner
	fset := token.NewFileSet()
	f := fset.AddFile("", -1, len(code))
	s.Init(f, []byte(code), nil, 0)
	_, tok, _ := s.Scan()
	return tok == token.PACKAGE
}

func firstError(err error) error {
	var list scanner.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return list[0]
	}
	return err
}
