package setup

import (
	"errors"
	"fmt"
)

// ErrMissingDependency is matched (errors.Is) by every error about a program or package the host lacks.
var ErrMissingDependency = errors.New("missing dependency")

// MissingDependencyError says what is missing and how to get it.
type MissingDependencyError struct {
	What    string // "qemu-system-x86_64"
	Package string // Debian package that provides it, if any
	Hint    string // one sentence: what the user can do
	Err     error  // the cause, if any (errors.Is reaches artifact.ErrDamaged through it)
}

// Unwrap returns the cause.
func (e *MissingDependencyError) Unwrap() error { return e.Err }

func (e *MissingDependencyError) Error() string {
	msg := e.What + " not found"
	if e.Package != "" {
		msg += fmt.Sprintf(" (Debian package %s)", e.Package)
	}
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// Is makes errors.Is(err, ErrMissingDependency) true.
func (e *MissingDependencyError) Is(target error) bool { return target == ErrMissingDependency }
