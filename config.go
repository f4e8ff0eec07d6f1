package voidbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/wire"
)

// Defaults for a zero Config.
const (
	DefaultMemoryMiB   = 512
	DefaultCPUs        = 1
	DefaultBootTimeout = 60 * time.Second
	DefaultOutputLimit = 16 << 20 // bytes kept per stream by Exec when not streaming
	DefaultReadLimit   = 64 << 20 // bytes ReadFile accepts
	MinDiskMiB         = 16       // smallest DiskMiB
)

// Config describes a sandbox. The zero value is usable: 512 MiB, 1 vCPU, the
// accelerator chosen for this host, artifacts from the default cache.
type Config struct {
	// Name labels the VM in logs and runtime paths.
	Name string
	// MemoryMiB is the guest RAM (default 512, minimum 64).
	MemoryMiB int
	// CPUs is the number of vCPUs (default 1, at most 64).
	CPUs int
	// Env is added to every command's environment.
	Env map[string]string
	// Timeout is the default per-command timeout (0: none).
	Timeout time.Duration
	// AllowedCommands is the command allowlist: program names (no paths),
	// found in the guest's system directories (/bin, /sbin, /usr/bin,
	// /usr/sbin, /usr/local/bin, /usr/local/sbin). nil means no allowlist;
	// an empty, non-nil list allows no command at all.
	//
	// For commands (Exec, command boxes) only the program a command starts
	// is checked, not what it runs in turn: allowing sh, env, xargs or
	// busybox allows everything. Agent boxes check every command a tool
	// runs, after shell expansion.
	AllowedCommands []string
	// DiskMiB is the one budget shared by every RAM-backed filesystem the
	// sandbox user can write (/workspace, /tmp, /home/sandbox, /dev/shm):
	// a write past it fails with ENOSPC instead of exhausting the guest's
	// memory. 0 means half the memory the guest has free after boot (the
	// kernel and voidbox's own processes take ~85 MiB plus ~10% of
	// MemoryMiB: ~200 MiB at the default 512). At least MinDiskMiB and at
	// most half of MemoryMiB; the guest also refuses a budget that would
	// leave it less than 16 MiB of memory, saying the largest that fits.
	DiskMiB int
	// Limits bound every command (zero fields take the guest defaults).
	Limits Limits
	// Accel is "kvm", "tcg" or "auto"/"" (default: $VOIDBOX_ACCEL, then auto).
	Accel string
	// Image overrides the guest kernel and initramfs (default: set up and
	// cached automatically, see Setup).
	Image Image
	// QEMU is the qemu-system-x86_64 binary (default: found by Setup).
	QEMU string
	// CacheDir overrides the artifact cache (default $VOIDBOX_CACHE_DIR,
	// then $XDG_CACHE_HOME/voidbox).
	CacheDir string
	// BootTimeout bounds the boot until the guest agent answers (default 60s).
	BootTimeout time.Duration
	// ConsoleLog keeps the serial console in this file (default: a file in
	// the VM's runtime directory, removed on Close).
	ConsoleLog string
	// OutputLimit caps the bytes of each output stream Exec captures or
	// forwards (default 16 MiB); the rest is dropped with a notice.
	OutputLimit int64
	// Progress receives set-up progress (downloads); nil is silent.
	Progress io.Writer
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger

	probe vmm.HostProbe // where the accelerator is probed (tests point it at a fake tree)

	// Set by the stage runner for agent stages.
	shares    []vmm.Share                      // host directories exported with virtio-9p
	listeners []wire.Listener                  // guest endpoints tunnelled to host services
	services  map[string]control.TunnelHandler // handlers for those services
}

// Limits are per-command resource limits enforced in the guest with rlimits.
type Limits struct {
	Processes  uint64 // RLIMIT_NPROC (default 1024)
	OpenFiles  uint64 // RLIMIT_NOFILE (default 4096)
	FileSize   uint64 // RLIMIT_FSIZE in bytes (default 1 GiB)
	CPUSeconds uint64 // RLIMIT_CPU (default none)
}

// Image is a bootable guest: an ELF vmlinux (or bzImage) and an initramfs.
type Image struct {
	Kernel    string
	Initramfs string
}

func (c Config) withDefaults() Config {
	if c.MemoryMiB == 0 {
		c.MemoryMiB = DefaultMemoryMiB
	}
	if c.CPUs == 0 {
		c.CPUs = DefaultCPUs
	}
	if c.BootTimeout == 0 {
		c.BootTimeout = DefaultBootTimeout
	}
	if c.OutputLimit == 0 {
		c.OutputLimit = DefaultOutputLimit
	}
	if c.Accel == "" {
		c.Accel = os.Getenv("VOIDBOX_ACCEL")
	}
	if c.Name == "" {
		c.Name = "sandbox"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	if err := errors.Join(c.problems()...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// problems lists what is wrong with c, for Validate and for a box's
// validation (which adds ErrInvalid once for all of its problems).
func (c Config) problems() []error {
	var errs []error
	if c.MemoryMiB != 0 && c.MemoryMiB < 64 {
		errs = append(errs, fmt.Errorf("memory: %d MiB is below the 64 MiB minimum", c.MemoryMiB))
	}
	if c.MemoryMiB > 1<<20 {
		errs = append(errs, fmt.Errorf("memory: %d MiB is more than 1 TiB", c.MemoryMiB))
	}
	if c.CPUs < 0 || c.CPUs > 64 {
		errs = append(errs, fmt.Errorf("cpus: %d is outside 1..64", c.CPUs))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %v is negative", c.Timeout))
	}
	if c.BootTimeout < 0 {
		errs = append(errs, fmt.Errorf("boot timeout: %v is negative", c.BootTimeout))
	}
	switch c.Accel {
	case "", "auto", "kvm", "tcg":
	default:
		errs = append(errs, fmt.Errorf("accel: %q is not kvm, tcg or auto", c.Accel))
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, fmt.Errorf("env: invalid variable name %q", k))
		}
	}
	for _, a := range c.AllowedCommands {
		if err := wire.CheckCommandName(a); err != nil {
			errs = append(errs, fmt.Errorf("allowed commands: %w", err))
		}
	}
	mem := c.MemoryMiB
	if mem == 0 {
		mem = DefaultMemoryMiB
	}
	if c.DiskMiB != 0 && (c.DiskMiB < MinDiskMiB || c.DiskMiB > mem/2) {
		errs = append(errs, fmt.Errorf("disk: %d MiB is outside %d..%d MiB (at most half of the %d MiB of memory)",
			c.DiskMiB, MinDiskMiB, mem/2, mem))
	}
	return errs
}
