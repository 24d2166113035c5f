package validator

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
)

func build(t testing.TB, cfg string) gate.Gate {
	t.Helper()
	g, err := gate.Build(gatetest.Builder{}, "g", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("Build(%s): %v", cfg, err)
	}
	return g
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct{ cfg, want string }{
		{`"validator"`, "g.validator: configure at least one check"},
		{`{"validator":{"arithmetic":{"tolerance":2}}}`, "g.validator.arithmetic.tolerance: must be in (0,1)"},
		{`{"validator":{"final_answer":{"pattern":"(x"}}}`, "g.validator.final_answer.pattern: invalid regular expression"},
		{`{"validator":{"code":{"languages":["cobol"]}}}`, `g.validator.code.languages[0]: no builtin check for "cobol"`},
		{`{"validator":{"code":{"commands":{"python":{}}}}}`, "g.validator.code.commands.python.command: required"},
		{`{"validator":{"code":{"commands":{"py":{"command":["sh"]}}}}}`, `g.validator.code.commands.py: name the language "python"`},
		{`{"validator":{"code":{"commands":{"python":{"command":["no-such-compiler-xyz"]}}}}}`, `g.validator.code.commands.python.command: "no-such-compiler-xyz" not found`},
		{`{"validator":{"code":{"commands":{"python":{"command":["sh"],"network":"maybe"}}}}}`, "g.validator.code.commands.python.network: unknown value"},
		{`{"validator":{"code":{"commands":{"python":{"command":["sh"],"timeout":"1h"}}}}}`, "g.validator.code.commands.python.timeout: at most 5m"},
		{`{"validator":{"code":{"commands":{"python":{"command":["sh"],"suffix":"../x"}}}}}`, "suffix: must be a file name suffix"},
		{`{"validator":{"code":{"max_concurrent":0}}}`, "g.validator.code.max_concurrent: must be at least 1"},
		{`{"validator":{"arithmetic":true}}`, "g.validator.arithmetic: expected a mapping"},
	} {
		if _, err := gate.Build(gatetest.Builder{}, "g", json.RawMessage(tt.cfg)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		text    string
		partial bool
		score   float64
		pass    bool
		skipped bool
		reason  string
	}{
		{"arithmetic right", `{"validator":{"arithmetic":{}}}`, "2 + 1 = 3 bolts\n#### 3", false, 1, true, false, "1 checks pass"},
		{"arithmetic wrong", `{"validator":{"arithmetic":{}}}`, "So 80,000 + 50,000 = $<<80000+50000=120000>>120,000\nand 2*3=6", false, 0.5, false, false, "1 of 2 steps wrong: 80000+50000=120000 (is 130000)"},
		{"arithmetic lax", `{"validator":{"threshold":0.5,"arithmetic":{}}}`, "2+2=5 and 3*3=9", false, 0.5, true, false, "1 of 2"},
		{"no steps", `{"validator":{"arithmetic":{}}}`, "Paris.", false, 0, false, true, "nothing to check"},
		{"final default", `{"validator":{"final_answer":{}}}`, "so 3.\n#### 3", false, 1, true, false, ""},
		{"final missing", `{"validator":{"final_answer":{}}}`, "so it is 3 bolts", false, 0, false, false, "no final answer stated"},
		{"final pattern", `{"validator":{"final_answer":{"pattern":"####\\s*-?[\\d,.]+"}}}`, "#### $3", false, 0, false, false, "no final answer matching"},
		{"final and arithmetic", `{"validator":{"arithmetic":{},"final_answer":{}}}`, "2+2=5\nThe answer is 5.", false, 0, false, false, "1 of 1 steps wrong"},
		{"go ok", `{"validator":{"code":{}}}`, "```go\npackage main\n\nfunc main() { println(1) }\n```", false, 1, true, false, ""},
		{"go snippet", `{"validator":{"code":{}}}`, "```go\nfunc add(a, b int) int { return a + b }\n```\n```golang\nx := 1\nfmt.Println(x)\n```", false, 1, true, false, ""},
		{"go broken", `{"validator":{"code":{}}}`, "```go\nfunc add(a, b int) int { return a + \n```", false, 0, false, false, "go block 1"},
		{"json broken", `{"validator":{"code":{}}}`, "```json\n{\"a\": 1,}\n```\n```go\nvar x = 1\n```", false, 0.5, false, false, "json block 1"},
		{"unclosed block", `{"validator":{"code":{}}}`, "```json\n{\"a\": 1}\n", false, 0, false, false, "not closed"},
		{"unknown language skipped", `{"validator":{"code":{}}}`, "```cobol\nDISPLAY 'X'.\n```", false, 0, false, true, ""},
		{"language off", `{"validator":{"code":{"languages":["json"]}}}`, "```go\nfunc (\n```", false, 0, false, true, ""},
		{"code required", `{"validator":{"code":{"require":true}}}`, "no code here", false, 0, false, false, "no code block"},
		{"prefix wrong step", `{"validator":{"arithmetic":{},"final_answer":{}}}`, "2+2=5\nso the", true, 0, false, false, "1 of 1"},
		{"prefix skips", `{"validator":{"arithmetic":{},"final_answer":{}}}`, "2+2=4\n3*3=", true, 0, false, true, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.cfg)
			c := gatetest.Call("q", "", nil)
			a := gatetest.Answer(c, tt.text)
			a.Partial = tt.partial
			v, err := g.Check(context.Background(), c, a)
			if err != nil {
				t.Fatal(err)
			}
			if v.Skipped != tt.skipped || v.Pass != tt.pass || (!tt.skipped && v.Score != tt.score) || !strings.Contains(v.Reason, tt.reason) {
				t.Fatalf("verdict %+v; want score %v pass %v skipped %v reason ~%q", v, tt.score, tt.pass, tt.skipped, tt.reason)
			}
		})
	}
}

func TestCheckGo(t *testing.T) {
	for _, tt := range []struct {
		code string
		ok   bool
	}{
		{"package main\nfunc main() {}", true},
		{"// comment\npackage x\nvar y = 1", true},
		{"package main\nfunc main() {", false},
		{"type T struct{ A int }", true},
		{"for i := 0; i < 3; i++ {\n\tfmt.Println(i)\n}", true},
		{"x := ", false},
	} {
		if err := checkGo(tt.code); (err == nil) != tt.ok {
			t.Errorf("checkGo(%q) = %v, want ok %v", tt.code, err, tt.ok)
		}
	}
}

func TestSummary(t *testing.T) {
	out := "  File \"/tmp/sextant-validator-123/code.py\", line 1\n    def f(:\n          ^\nSyntaxError: invalid syntax\n"
	if got := summary(out); got != "SyntaxError: invalid syntax" {
		t.Errorf("summary = %q", got)
	}
	if got := summary("/tmp/sextant-validator-9/code.c:1:1: error: expected ';'\nmore"); got != "code.c:1:1: error: expected ';'" {
		t.Errorf("summary = %q", got)
	}
	if got := summary(""); got != "failed without output" {
		t.Errorf("summary = %q", got)
	}
}

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
}

// isolated skips the test when this machine cannot take a process off the
// network (no namespaces for this user).
func isolated(t *testing.T) {
	t.Helper()
	sb := Sandbox{Timeout: 5 * time.Second}
	if _, err := sb.Run(context.Background(), []string{"true"}, "", ""); errors.Is(err, ErrNoIsolation) {
		t.Skip("no network isolation here:", err)
	} else if err != nil {
		t.Fatal(err)
	}
}

func TestPythonCommand(t *testing.T) {
	needPython(t)
	isolated(t)
	g := build(t, `{"validator":{"code":{"commands":{"python":{"command":["python3","-m","py_compile","{file}"],"suffix":".py","timeout":"20s"}}}}}`)
	c := gatetest.Call("q", "", nil)
	ok := gatetest.Answer(c, "```python\ndef f(x):\n    return x + 1\n```")
	if v, err := g.Check(context.Background(), c, ok); err != nil || !v.Pass {
		t.Fatalf("valid python: %+v, %v", v, err)
	}
	bad := gatetest.Answer(c, "```py\ndef f(:\n    return\n```")
	v, err := g.Check(context.Background(), c, bad)
	if err != nil || v.Pass || !strings.Contains(v.Reason, "SyntaxError") {
		t.Fatalf("broken python: %+v, %v", v, err)
	}
}

func TestSandboxStdinAndExit(t *testing.T) {
	isolated(t)
	sb := Sandbox{Timeout: 5 * time.Second}
	res, err := sb.Run(context.Background(), []string{"sh", "-c", "grep -q good"}, "this is good code", "")
	if err != nil || !res.OK {
		t.Fatalf("stdin: %+v, %v", res, err)
	}
	res, err = sb.Run(context.Background(), []string{"sh", "-c", "echo broken >&2; exit 3"}, "", "")
	if err != nil || res.OK || !strings.Contains(res.Output, "broken") {
		t.Fatalf("exit 3: %+v, %v", res, err)
	}
}

func TestSandboxEnvironment(t *testing.T) {
	isolated(t)
	t.Setenv("SEXTANT_TEST_SECRET_KEY", "sk-123")
	sb := Sandbox{Timeout: 5 * time.Second}
	res, err := sb.Run(context.Background(), []string{"sh", "-c", "env; pwd"}, "", "")
	if err != nil || !res.OK {
		t.Fatal(res, err)
	}
	if strings.Contains(res.Output, "sk-123") || !strings.Contains(res.Output, "sextant-validator-") {
		t.Fatalf("environment leaked or wrong directory:\n%s", res.Output)
	}
}

func TestSandboxTimeout(t *testing.T) {
	isolated(t)
	sb := Sandbox{Timeout: 300 * time.Millisecond}
	start := time.Now()
	res, err := sb.Run(context.Background(), []string{"sh", "-c", "sleep 30 & sleep 30"}, "", "")
	if err != nil || res.OK || !res.TimedOut {
		t.Fatalf("timeout: %+v, %v", res, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the process group outlived its limit: %v", d)
	}
}

func TestSandboxMemoryLimit(t *testing.T) {
	needPython(t)
	isolated(t)
	code := "x = bytearray(600 * 1024 * 1024)\nprint(len(x))\n"
	sb := Sandbox{Timeout: 20 * time.Second, MemoryBytes: 200 << 20}
	res, err := sb.Run(context.Background(), []string{"python3", "{file}"}, code, ".py")
	if err != nil || res.OK || !strings.Contains(res.Output, "MemoryError") {
		t.Fatalf("memory limit: %+v, %v", res, err)
	}
	sb.MemoryBytes = 0
	if res, err := sb.Run(context.Background(), []string{"python3", "{file}"}, "print(1)", ".py"); err != nil || !res.OK {
		t.Fatalf("no limit: %+v, %v", res, err)
	}
}

func TestSandboxNoNetwork(t *testing.T) {
	needPython(t)
	isolated(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	code := "import socket\nsocket.create_connection(('127.0.0.1', " + port + "), timeout=3)\nprint('connected')\n"
	sb := Sandbox{Timeout: 20 * time.Second}
	res, err := sb.Run(context.Background(), []string{"python3", "{file}"}, code, ".py")
	if err != nil || res.OK || strings.Contains(res.Output, "connected") {
		t.Fatalf("reached the network from the sandbox: %+v, %v", res, err)
	}
	sb.Network = true
	res, err = sb.Run(context.Background(), []string{"python3", "{file}"}, code, ".py")
	if err != nil || !res.OK || !strings.Contains(res.Output, "connected") {
		t.Fatalf("network allowed but not reached: %+v, %v", res, err)
	}
}

func TestCommandCanceled(t *testing.T) {
	isolated(t)
	g := build(t, `{"validator":{"code":{"commands":{"shell":{"command":["sh","-c","sleep 30"]}}}}}`)
	c := gatetest.Call("q", "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := g.Check(ctx, c, gatetest.Answer(c, "```sh\necho hi\n```"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
}

// benchAnswer is a worked solution of about 500 tokens with a Go block.
var benchAnswer = strings.Repeat("The house cost $80,000 and repairs $50,000, so 80,000 + 50,000 = $<<80000+50000=130000>>130,000. The increase is 80,000 * 1.5 = $120,000. ", 8) +
	"\nIn Go:\n```go\npackage main\n\nimport \"fmt\"\n\nfunc main() {\n\tcost := 80000 + 50000\n\tvalue := 80000 * 2.5\n\tfmt.Println(value - float64(cost))\n}\n```\nThe answer is 70000.\n#### 70000\n"

func BenchmarkValidatorArithmeticGo(b *testing.B) {
	g := build(b, `{"validator":{"arithmetic":{},"final_answer":{},"code":{}}}`)
	c := gatetest.Call("q", "", nil)
	a := gatetest.Answer(c, benchAnswer)
	ctx := context.Background()
	if v, err := g.Check(ctx, c, a); err != nil || !v.Pass {
		b.Fatalf("bench answer: %+v %v", v, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		// A fresh Answer each time: its shared analysis is not cached.
		g.Check(ctx, c, &gate.Answer{Model: a.Model, Request: a.Request, Response: a.Response})
	}
}
