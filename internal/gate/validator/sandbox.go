package validator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Sandbox runs a checking command (a compiler, a linter) on code a model
// wrote: with a wall-clock and CPU time limit, a memory limit, a private
// empty network namespace (no network) unless Network is set, a fresh
// temporary directory as its working directory, and an environment of only
// PATH, HOME, LANG, TMPDIR and the variables named in PassEnv. The command
// never sees the gateway's other environment variables (API keys).
//
// The limits are set by a /bin/sh wrapper (ulimit -v for memory, ulimit -t
// for CPU seconds) that then execs the command, and the whole process
// group is killed when the time limit passes. Network isolation needs
// Linux and either root or unprivileged user namespaces; where neither is
// available Run fails with ErrNoIsolation rather than run without it.
type Sandbox struct {
	Timeout     time.Duration // wall clock; CPU time is limited to the same, rounded up to seconds
	MemoryBytes int64         // address space; 0: no limit
	Network     bool          // allow network access
	PassEnv     []string      // further environment variables passed through
}

// ErrNoIsolation means the sandbox could not take the command off the
// network on this machine.
var ErrNoIsolation = errors.New("validator: cannot run the command without network (no network namespace here); set network: allow to run it with network access")

// maxOutput bounds the output kept from a command.
const maxOutput = 16 << 10

// Result is what a command run gave.
type Result struct {
	OK       bool   // exited with status 0 within the limits
	TimedOut bool   // killed at the time limit
	Output   string // stderr then stdout, cut to maxOutput
}

// Run runs argv with code: written to a file named "code"+suffix in the
// working directory, whose path replaces every "{file}" in argv, or, when
// no argument names {file}, given on standard input. An error means the
// command could not be run at all; a command that ran and failed is a
// Result with OK false.
func (s *Sandbox) Run(ctx context.Context, argv []string, code, suffix string) (Result, error) {
	if !s.Network && !namespaces {
		return Result{}, ErrNoIsolation
	}
	dir, err := os.MkdirTemp("", "sextant-validator-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	file := dir + "/code" + suffix
	args := make([]string, len(argv))
	useFile := false
	for i, a := range argv {
		if strings.Contains(a, "{file}") {
			useFile = true
			a = strings.ReplaceAll(a, "{file}", file)
		}
		args[i] = a
	}
	if useFile {
		if err := os.WriteFile(file, []byte(code), 0o600); err != nil {
			return Result{}, err
		}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	script := "ulimit -t " + strconv.FormatInt(int64((timeout+time.Second-1)/time.Second), 10)
	if s.MemoryBytes > 0 {
		script += " && ulimit -v " + strconv.FormatInt(s.MemoryBytes>>10, 10)
	}
	script += ` && exec "$@"`
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", script, "sandbox"}, args...)...)
	cmd.Dir = dir
	cmd.Env = s.env(dir)
	if !useFile {
		cmd.Stdin = strings.NewReader(code)
	}
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = sysProcAttr(s.Network)
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		if !s.Network && isolationFailed(err) {
			return Result{}, fmt.Errorf("%w: %v", ErrNoIsolation, err)
		}
		return Result{}, err
	}
	err = cmd.Wait()
	res := Result{Output: out.String()}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.TimedOut = true
	case err == nil:
		res.OK = true
	default:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return res, err
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

func (s *Sandbox) env(dir string) []string {
	env := []string{"LANG=C.UTF-8", "TMPDIR=" + dir}
	for _, k := range append([]string{"PATH", "HOME"}, s.PassEnv...) {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// limitedBuffer keeps the first maxOutput bytes written to it.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return l.b.String() }
