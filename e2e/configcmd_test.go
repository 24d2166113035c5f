package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/config"
)

// runCmd runs the binary with args in dir and returns its exit code and
// output.
func runCmd(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), exitTimeout)
	defer cancel()
	cmd := exec.CommandContext(c, sextantBin, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	default:
		t.Fatalf("sextant %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	if strings.Contains(errb.String(), "WARNING: DATA RACE") {
		t.Errorf("the race detector reported a race in sextant %s:\n%s", strings.Join(args, " "), errb.String())
	}
	return code, out.String(), errb.String()
}

func TestConfigDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runCmd(t, dir, "config", "default")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != string(config.DefaultYAML) {
		t.Error("`sextant config default` does not print the embedded config verbatim")
	}
	got, err := config.Parse([]byte(out))
	if err != nil {
		t.Fatalf("the printed default config does not parse: %v", err)
	}
	want, err := config.Parse(config.DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the printed default config parses to\n%+v\nwant\n%+v", got, want)
	}

	// What it prints is a config file the server accepts as it is.
	path := writeFile(t, dir, "default.yaml", out)
	code, out, errOut = runCmd(t, dir, "config", "check", path)
	if code != 0 || !strings.Contains(out, ": ok (") {
		t.Errorf("config check of the printed default: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		yaml   string
		code   int
		stdout string   // substring of stdout
		stderr []string // substrings of stderr, one per fault
	}{
		{name: "good", yaml: fallbackConfig, code: 0, stdout: "ok (2 models, 1 routes)"},
		{name: "good, stream config", yaml: streamConfig, code: 0, stdout: "ok (3 models, 1 routes)"},
		{name: "unknown model", code: 1, yaml: `
models:
  - {name: small, provider: sim}
routes:
  auto:
    fallback: [small, gpt-5]
`, stderr: []string{`routes.auto.fallback[1]: unknown model "gpt-5"`}},
		{name: "unknown option", code: 1, yaml: `
models:
  - {name: small, provider: sim, options: {seeed: 1}}
`, stderr: []string{"models[0].options.seeed"}},
		{name: "rates above one", code: 1, yaml: `
models:
  - {name: small, provider: sim, options: {error_rate: 0.6, stream_break_rate: 0.6}}
`, stderr: []string{"models[0].options"}},
		{name: "duplicate key", code: 1, yaml: `
models:
  - {name: small, provider: sim, name: big}
`, stderr: []string{`line 3: mapping key "name" already defined`}},
		{name: "invalid YAML", code: 1, yaml: "models: [", stderr: []string{"invalid YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := writeFile(t, dir, "sextant.yaml", tt.yaml)
			code, out, errOut := runCmd(t, dir, "config", "check", path)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tt.code, out, errOut)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout = %q, want it to contain %q", out, tt.stdout)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr = %q, want it to name %q", errOut, want)
				}
			}
			if tt.code != 0 && !strings.Contains(errOut, path) {
				t.Errorf("stderr = %q, want it to name the file %s", errOut, path)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "nope.yaml")
		code, _, errOut := runCmd(t, dir, "config", "check", path)
		if code != 1 || !strings.Contains(errOut, "nope.yaml") {
			t.Errorf("exit %d, stderr %q; want 1 naming the file", code, errOut)
		}
	})

	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"config"}, {"config", "check"}, {"config", "frobnicate"}, {"frobnicate"}, {}} {
			code, _, errOut := runCmd(t, t.TempDir(), args...)
			if code != 2 || errOut == "" {
				t.Errorf("sextant %q: exit %d, stderr %q; want 2 with a message", args, code, errOut)
			}
		}
	})

	// serve refuses a bad config at start with the same message.
	t.Run("serve", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := writeFile(t, dir, "sextant.yaml", "models:\n  - {name: small, provider: sim}\nroutes:\n  auto:\n    fallback: [small, gpt-5]\n")
		code, _, errOut := runCmd(t, dir, "serve", "--config", path, "--addr", "127.0.0.1:0")
		if code != 1 || !strings.Contains(errOut, `routes.auto.fallback[1]: unknown model "gpt-5"`) {
			t.Errorf("serve with a bad config: exit %d, stderr %q", code, errOut)
		}
	})
}
