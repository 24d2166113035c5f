package eval

import (
	"testing"

	"go.uber.org/goleak"
)

// The evaluator fans records out to worker goroutines; none may outlive a
// run.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
