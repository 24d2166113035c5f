package rules

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/sextant-router/sextant/internal/policy"
)

// request is what expressions see as `request`. The cel tags are the names
// rules use: they are part of the config contract, so they are spelled out
// here rather than derived from features.Set.
type request struct {
	Chars         int64             `cel:"chars"`
	Tokens        int64             `cel:"tokens"`
	Messages      int64             `cel:"messages"`
	UserTurns     int64             `cel:"user_turns"`
	LastUser      string            `cel:"last_user"`
	LastUserChars int64             `cel:"last_user_chars"`
	System        bool              `cel:"system"`
	HasCode       bool              `cel:"has_code"`
	CodeLangs     []string          `cel:"code_langs"`
	HasMath       bool              `cel:"has_math"`
	QuestionWords int64             `cel:"question_words"`
	MultiStep     bool              `cel:"multi_step"`
	Language      string            `cel:"language"`
	Tools         int64             `cel:"tools"`
	JSON          bool              `cel:"json"`
	Logprobs      bool              `cel:"logprobs"`
	Stream        bool              `cel:"stream"`
	Images        int64             `cel:"images"`
	MaxTokens     int64             `cel:"max_tokens"`
	Model         string            `cel:"model"`
	User          string            `cel:"user"`
	Metadata      map[string]string `cel:"metadata"`
}

// caller is what expressions see as `caller`.
type caller struct {
	Key      string            `cel:"key"`
	Tier     string            `cel:"tier"`
	Session  string            `cel:"session"`
	Metadata map[string]string `cel:"metadata"`
}

const (
	requestType = "sextant.Request"
	callerType  = "sextant.Caller"
)

// env is the CEL environment every rules node compiles against. A cel.Env
// is immutable and safe for concurrent use, so one serves the process.
var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(append(signalOptions(),
		cel.Types(
			cel.NativeTypeFor[request](cel.NativeTypeAlias(requestType), types.ParseStructTags(true)),
			cel.NativeTypeFor[caller](cel.NativeTypeAlias(callerType), types.ParseStructTags(true)),
		),
		cel.Variable("request", cel.ObjectType(requestType)),
		cel.Variable("caller", cel.ObjectType(callerType)),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("now", cel.TimestampType),
		cel.Variable("hour", cel.IntType),
		cel.Variable("weekday", cel.IntType),
		cel.Function("contains_any",
			cel.Overload("contains_any_string_list_string",
				[]*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
				cel.BinaryBinding(containsAnyBinding))),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		cel.ASTValidators(cel.ValidateRegexLiterals()),
	)...)
})

// vars is the activation of one Serve: every rule of the node evaluates
// against it in turn. Values are built on first use, so a request whose
// rules never read `request` never pays for feature extraction.
type vars struct {
	c    *policy.Call
	loc  *time.Location
	conv types.Adapter

	req, who, hdr, now, hour, weekday ref.Val
}

var _ interpreter.Activation = (*vars)(nil)

// ResolveName implements interpreter.Activation.
func (v *vars) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		if v.req == nil {
			v.req = v.conv.NativeToValue(newRequest(v.c))
		}
		return v.req, true
	case "caller":
		if v.who == nil {
			who := v.c.Caller
			v.who = v.conv.NativeToValue(&caller{Key: who.Key, Tier: who.Tier, Session: who.Session, Metadata: nonNil(who.Metadata)})
		}
		return v.who, true
	case "headers":
		if v.hdr == nil {
			h := make(map[string]string, len(v.c.Header))
			for k, vals := range v.c.Header {
				h[strings.ToLower(k)] = strings.Join(vals, ", ")
			}
			v.hdr = v.conv.NativeToValue(h)
		}
		return v.hdr, true
	case "now":
		if v.now == nil {
			v.now = types.Timestamp{Time: v.at()}
		}
		return v.now, true
	case "hour":
		if v.hour == nil {
			v.hour = types.Int(v.at().In(v.loc).Hour())
		}
		return v.hour, true
	case "load":
		return loadLevel(), true
	case "weekday":
		if v.weekday == nil {
			v.weekday = types.Int(v.at().In(v.loc).Weekday())
		}
		return v.weekday, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (v *vars) Parent() interpreter.Activation { return nil }

// at is when the request arrived; the clock only when the caller did not
// say.
func (v *vars) at() time.Time {
	if v.c.Now.IsZero() {
		return time.Now()
	}
	return v.c.Now
}

func newRequest(c *policy.Call) *request {
	f := c.Features()
	r := &request{
		Chars: int64(f.Chars), Tokens: int64(f.Tokens), Messages: int64(f.Messages),
		UserTurns: int64(f.UserTurns), LastUser: f.LastUser, LastUserChars: int64(f.LastUserChars),
		System: f.System, HasCode: f.HasCode, CodeLangs: f.CodeLangs, HasMath: f.HasMath,
		QuestionWords: int64(f.QuestionWords), MultiStep: f.MultiStep, Language: f.Language,
		Tools: int64(f.Tools), JSON: f.JSON, Logprobs: f.Logprobs, Stream: f.Stream,
		Images: int64(f.Images), MaxTokens: int64(f.MaxTokens),
	}
	if r.CodeLangs == nil {
		r.CodeLangs = []string{}
	}
	if c.Request != nil {
		r.Model, r.User, r.Metadata = c.Request.Model, c.Request.User, c.Request.Metadata
	}
	r.Metadata = nonNil(r.Metadata)
	return r
}

var emptyMap = map[string]string{}

// nonNil keeps a missing map an empty map in CEL rather than null, so
// `"k" in request.metadata` works on every request. Expressions cannot
// change maps, so sharing one empty map is safe.
func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return emptyMap
	}
	return m
}

func containsAnyBinding(lhs, rhs ref.Val) ref.Val {
	text, ok := lhs.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(lhs)
	}
	list, ok := rhs.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(rhs)
	}
	lowered := strings.ToLower(string(text))
	for it := list.Iterator(); it.HasNext() == types.True; {
		w, ok := it.Next().(types.String)
		if !ok {
			return types.NewErr("contains_any: the list must hold strings")
		}
		if containsWord(lowered, strings.ToLower(string(w))) {
			return types.True
		}
	}
	return types.False
}

// containsWord reports whether text holds word (both lower-case) as a
// whole word or phrase: not preceded or followed by a letter, digit or
// underscore. Scripts written without spaces (Han, kana, Thai...) need no
// boundary, so a Chinese word matches inside a sentence. An empty word
// never matches.
func containsWord(text, word string) bool {
	if word == "" {
		return false
	}
	first, _ := utf8.DecodeRuneInString(word)
	last, _ := utf8.DecodeLastRuneInString(word)
	for from := 0; from <= len(text)-len(word); {
		i := strings.Index(text[from:], word)
		if i < 0 {
			return false
		}
		i += from
		before, _ := utf8.DecodeLastRuneInString(text[:i])
		after, _ := utf8.DecodeRuneInString(text[i+len(word):])
		if boundary(first, before) && boundary(last, after) {
			return true
		}
		_, w := utf8.DecodeRuneInString(text[i:])
		from = i + w
	}
	return false
}

// boundary reports whether a word whose edge rune is edge may end next to
// the rune next (utf8.RuneError at the start or end of the text).
func boundary(edge, next rune) bool {
	if !wordRune(edge) || unspaced(edge) {
		return true
	}
	return next == utf8.RuneError || !wordRune(next) || unspaced(next)
}

func wordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func unspaced(r rune) bool {
	return r >= 0x2E80 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)) ||
		unicode.Is(unicode.Thai, r) || unicode.Is(unicode.Lao, r) || unicode.Is(unicode.Khmer, r) || unicode.Is(unicode.Myanmar, r)
}

// compile parses and type-checks expr and plans it with the cost limit.
func compile(e *cel.Env, expr string, costLimit uint64) (cel.Program, error) {
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return nil, celError(iss)
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("must be a boolean expression, but its type is %s", t)
	}
	return e.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit))
}

// celError flattens CEL's issues into one message: "1:9: undeclared
// reference to 'x'" plus the source line and a caret, per issue.
func celError(iss *cel.Issues) error {
	msg := strings.TrimSpace(iss.Err().Error())
	msg = strings.ReplaceAll(msg, "ERROR: <input>:", "")
	return fmt.Errorf("%s", msg)
}
