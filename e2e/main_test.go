// Package e2e tests the sextant binary from the outside: it builds the real
// command once, starts it as a child process on a free port with configs
// written per test, and drives it with the official OpenAI Go SDK and with
// raw HTTP, the way clients and operators do.
//
// Set SEXTANT_BIN to test a prebuilt binary instead of building one.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// sextantBin is the binary under test, set by TestMain.
var sextantBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin := os.Getenv("SEXTANT_BIN")
	if bin == "" {
		dir, err := os.MkdirTemp("", "sextant-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "sextant")
		if err := build(bin); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building sextant:", err)
			return 1
		}
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	sextantBin = abs
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: leaked goroutines:", err)
			code = 1
		}
	}
	return code
}

// build compiles cmd/sextant into bin. Under -race the binary is built with
// the race detector too, so that a data race in the server fails the test
// that provoked it (see proc.checkLogs).
func build(bin string) error {
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/sextant-router/sextant/cmd/sextant")
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
