package voidbox

import "github.com/voidbox/voidbox/internal/sandbox"

// Error categories, checked with errors.Is.
var (
	// ErrInvalid: a configuration or request is malformed.
	ErrInvalid = sandbox.ErrInvalid
	// ErrMissingDependency: something the host needs (QEMU, a kernel, the
	// prepared guest image) is absent.
	ErrMissingDependency = sandbox.ErrMissingDependency
	// ErrBoot: the VM did not come up (kernel panic, agent crash, boot timeout).
	ErrBoot = sandbox.ErrBoot
	// ErrVMGone: the VM died while in use.
	ErrVMGone = sandbox.ErrVMGone
	// ErrClosed: the sandbox was closed.
	ErrClosed = sandbox.ErrClosed
	// ErrNotFound: a guest path does not exist.
	ErrNotFound = sandbox.ErrNotFound
	// ErrTooLarge: a file or output exceeds its cap.
	ErrTooLarge = sandbox.ErrTooLarge
)

// BootError is a failed boot, carrying the serial console's last lines.
type BootError = sandbox.BootError
