package sandbox

import (
	"errors"
	"fmt"
)

// Error categories, checked with errors.Is.
var (
	// ErrInvalid: a configuration or request is malformed.
	ErrInvalid = errors.New("invalid")
	// ErrMissingDependency: something the host needs (QEMU, a kernel) is absent.
	ErrMissingDependency = errors.New("missing dependency")
	// ErrBoot: the VM did not come up (kernel panic, guest init crash, boot timeout).
	ErrBoot = errors.New("vm did not boot")
	// ErrVMGone: the VM died while in use.
	ErrVMGone = errors.New("vm is gone")
	// ErrClosed: the sandbox was closed.
	ErrClosed = errors.New("sandbox closed")
	// ErrNotFound: a guest path does not exist.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge: a file or output exceeds its cap.
	ErrTooLarge = errors.New("too large")
)

// BootError is a failed boot, carrying the serial console's last lines.
type BootError struct {
	Reason      string
	ConsoleTail string
}

func (e *BootError) Error() string {
	if e.ConsoleTail == "" {
		return e.Reason + " (console is empty)"
	}
	return fmt.Sprintf("%s; last console lines:\n%s", e.Reason, indent(e.ConsoleTail))
}

func (e *BootError) Is(target error) bool { return target == ErrBoot }

func indent(s string) string {
	out := []byte("  | ")
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == '\n' && i+1 < len(s) {
			out = append(out, "  | "...)
		}
	}
	return string(out)
}
