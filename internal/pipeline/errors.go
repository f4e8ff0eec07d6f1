package pipeline

import (
	"errors"
	"fmt"
	"time"
)

// ErrTimeout marks an attempt that ran past its Node.Timeout. The message
// reads "timed out after 30s".
var ErrTimeout = errors.New("timed out")

// MaxBackoff caps the delay between retries.
const MaxBackoff = 30 * time.Second

// Permanent marks err as not worth retrying (a spec or configuration problem,
// a missing kernel): the engine fails the stage at once. It returns nil for a
// nil err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// ExitError is a non-zero exit status. Runners may return it (or any error)
// for a stage whose command exited non-zero; the engine also builds one when
// a Runner returns a nil error with a non-zero Output.ExitCode, so such an
// attempt counts as failed either way.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit code %d", e.Code) }

// StageError is how a failed stage appears in the error Run returns.
type StageError struct {
	Stage    string
	Attempts int
	Err      error
}

func (e *StageError) Error() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("stage %q (%d attempts): %v", e.Stage, e.Attempts, e.Err)
	}
	return fmt.Sprintf("stage %q: %v", e.Stage, e.Err)
}

func (e *StageError) Unwrap() error { return e.Err }

// backoff is the delay before retry number retry (1 for the first retry):
// first, doubled for each later retry, capped at MaxBackoff.
func backoff(first time.Duration, retry int) time.Duration {
	d := first
	for i := 1; i < retry && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}
