package voidbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// Policy is what one sandbox may use and do: memory, vCPUs, disk budget,
// command timeout, environment, allowed commands, rlimits, output caps. The
// zero value means the defaults (512 MiB, 1 vCPU, no allowlist). Specs,
// CLI flags and Go programs all describe a box with this one type; its
// fields and bounds are documented on internal/policy.Sandbox.
type Policy = policy.Sandbox

// Limits are per-command resource limits enforced in the guest with rlimits.
type Limits = policy.Limits

// Bounds and defaults of a Policy.
const (
	DefaultMemoryMiB   = policy.DefaultMemoryMiB
	MinMemoryMiB       = policy.MinMemoryMiB
	DefaultCPUs        = policy.DefaultVCPUs
	MinDiskMiB         = policy.MinDiskMiB
	DefaultOutputLimit = policy.DefaultOutputLimit
	DefaultBootTimeout = sandbox.DefaultBootTimeout
	DefaultReadLimit   = sandbox.DefaultReadLimit
)

// Image is a bootable guest: an ELF vmlinux (or bzImage) and an initramfs.
type Image struct {
	Kernel    string
	Initramfs string
}

// Config describes one sandbox for New. The zero value is usable.
type Config struct {
	// Name labels the VM in logs and runtime paths.
	Name string
	// Policy is what the sandbox may use and do.
	Policy Policy
	// Image overrides the guest kernel and initramfs (default: the image
	// Setup prepared in the cache).
	Image Image
	// ConsoleLog keeps the serial console in this file (default: a file in
	// the VM's runtime directory, removed on Close).
	ConsoleLog string
	// Events receives the sandbox's events (net.allowed, net.denied) as
	// they happen, with Run set to Name; nil drops them.
	Events EventSink
	// Host says how this host runs VMs.
	Host HostOptions
}

// HostOptions are how this host runs VMs, shared by every sandbox of a run.
type HostOptions struct {
	// Accel is "kvm", "tcg" or "auto"/"" (default: $VOIDBOX_ACCEL, then auto).
	Accel string
	// QEMU is the qemu-system-x86_64 binary (default: $VOIDBOX_QEMU, PATH).
	QEMU string
	// CacheDir is the artifact cache (default $VOIDBOX_CACHE_DIR, then
	// $XDG_CACHE_HOME/voidbox).
	CacheDir string
	// Image overrides the guest kernel and initramfs of every sandbox that
	// does not set its own.
	Image Image
	// BootTimeout bounds each boot until the guest init answers (default 60s).
	BootTimeout time.Duration
	// Progress receives set-up progress (downloads); nil is silent.
	Progress io.Writer
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem with c at once (errors.Is(err, ErrInvalid)).
func (c Config) Validate() error {
	var errs []error
	if err := c.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Host.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Validate reports every problem with h at once.
func (h HostOptions) Validate() error { return errors.Join(h.problems()...) }

func (h HostOptions) problems() []error {
	var errs []error
	if h.BootTimeout < 0 {
		errs = append(errs, fmt.Errorf("boot timeout: %v is negative", h.BootTimeout))
	}
	switch h.Accel {
	case "", "auto", "kvm", "tcg":
	default:
		errs = append(errs, fmt.Errorf("accel: %q is not kvm, tcg or auto", h.Accel))
	}
	return errs
}
