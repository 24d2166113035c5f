package store

import (
	"errors"
	"fmt"
	"math"
)

var (
	// ErrNotFound means no decision with the requested id is stored.
	ErrNotFound = errors.New("store: not found")
	// ErrInvalid means a record can never be stored as it is; retrying
	// the same record fails the same way.
	ErrInvalid = errors.New("store: invalid record")
	// ErrClosed means the Log or Store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrDropped means records were dropped because their write failed
	// after every retry (or the log was closed before they were written).
	ErrDropped = errors.New("store: records dropped")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// validDecision checks what every Store requires of a Decision.
func validDecision(d *Decision) error {
	if d.RequestID == "" {
		return invalidf("empty request_id")
	}
	return nil
}

// validFeedback checks what every Store requires of a Feedback.
func validFeedback(fb *Feedback) error {
	switch {
	case fb.RequestID == "":
		return invalidf("feedback: empty request_id")
	case fb.Score == nil && fb.Label == "" && fb.Comment == "":
		return invalidf("feedback for %q: needs a score, a label or a comment", fb.RequestID)
	case fb.Score != nil && (math.IsNaN(*fb.Score) || math.IsInf(*fb.Score, 0)):
		return invalidf("feedback for %q: score must be a finite number", fb.RequestID)
	}
	return nil
}
