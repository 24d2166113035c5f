//go:build !linux

package validator

import (
	"os/exec"
	"syscall"
)

// namespaces is false: outside Linux there is no network isolation, so Run
// fails with ErrNoIsolation unless network is allowed.
const namespaces = false

func sysProcAttr(network bool) *syscall.SysProcAttr { return nil }

func isolationFailed(err error) bool { return false }

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}
