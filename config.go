package voidbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/setup"
	"github.com/voidbox/voidbox/internal/warm"
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
	// Host says how this host runs VMs.
	Host HostOptions
	// Events, if set, receives the sandbox's events as they happen: its
	// vm.queued and vm.admitted while New waits for a host-wide VM slot,
	// then net.allowed and net.denied (Run set to Name; Stage is empty).
	Events EventSink
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
	// Kernel is the prepared guest kernel to boot when Image is not set:
	// "generic" or "slim" (see SetupOptions.Kernel); "" means
	// $VOIDBOX_KERNEL, else generic.
	Kernel string
	// BootTimeout bounds each boot from admission until the guest init
	// answers (default 60s), not counting time the guest spent waiting for
	// a host CPU, and at most five times as long in wall time.
	BootTimeout time.Duration
	// BootSlots is how many VMs may boot at once on this host, counted
	// across every voidbox process of the user (default
	// $VOIDBOX_BOOT_SLOTS, else the core count under TCG, four per core
	// under KVM). A start waits for a slot.
	BootSlots int
	// MemoryBudgetMiB bounds the memory of the VMs running at once on this
	// host, across every voidbox process of the user: each is charged its
	// guest memory plus QEMU's own (default $VOIDBOX_MEMORY_BUDGET, else
	// three quarters of RAM; never more than RAM). A start waits for room;
	// a box larger than the whole budget is refused at once.
	MemoryBudgetMiB int
	// NoWarm boots every VM of a run cold. By default the first VM of
	// each sandbox configuration (policy, memory, vCPUs, guest image)
	// that allows a snapshot (no OCI image root, host mounts or shared
	// directories) takes a template snapshot right after its handshake,
	// and every first attempt of that configuration is restored from it;
	// retries always boot cold.
	NoWarm bool
	// WarmPool keeps this many VMs of each warm configuration restored and
	// parked ahead of need during a run (0: none; at most warm.MaxPool),
	// so a stage's VM is a resume of one of them. Each is used once: a
	// retry still boots a fresh VM. They are stopped when the run ends.
	// Refused with NoWarm.
	WarmPool int
	// Warm, if set, is where the run's warm starts come from, kept across
	// runs (NewWarmStarts), instead of templates of its own; refused with
	// NoWarm or WarmPool (the pool is WarmOptions.Pool then).
	Warm *WarmStarts
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
	if h.Kernel != "" {
		if _, err := setup.KernelChoice(h.Kernel); err != nil {
			errs = append(errs, err)
		}
	}
	if h.BootSlots < 0 {
		errs = append(errs, fmt.Errorf("boot slots: %d is negative", h.BootSlots))
	}
	if h.MemoryBudgetMiB < 0 {
		errs = append(errs, fmt.Errorf("memory budget: %d MiB is negative", h.MemoryBudgetMiB))
	}
	if h.BootTimeout < 0 {
		errs = append(errs, fmt.Errorf("boot timeout: %v is negative", h.BootTimeout))
	}
	if h.WarmPool < 0 || h.WarmPool > warm.MaxPool {
		errs = append(errs, fmt.Errorf("warm pool: %d is outside 0..%d", h.WarmPool, warm.MaxPool))
	}
	if h.Warm != nil && (h.NoWarm || h.WarmPool > 0) {
		errs = append(errs, errors.New("warm: shared warm starts exclude no-warm and a run's own warm pool"))
	}
	if h.WarmPool > 0 && h.NoWarm {
		errs = append(errs, errors.New("warm pool: a pool restores from templates, which no-warm turns off"))
	}
	switch h.Accel {
	case "", "auto", "kvm", "tcg":
	default:
		errs = append(errs, fmt.Errorf("accel: %q is not kvm, tcg or auto", h.Accel))
	}
	return errs
}
