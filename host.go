package voidbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/voidbox/voidbox/internal/setup"
	"github.com/voidbox/voidbox/internal/vmm"
)

// SetupOptions configures Setup.
type SetupOptions struct {
	CacheDir string    // default $VOIDBOX_CACHE_DIR, then $XDG_CACHE_HOME/voidbox
	Progress io.Writer // download and build progress; nil is silent
	Refresh  bool      // re-resolve the Debian package versions
	// Agent also prepares the image of agent stages (the built-in agent is
	// a separate binary, added to their initramfs only).
	Agent bool
}

// SetupResult describes a host that can boot sandboxes.
type SetupResult struct {
	QEMU          string // qemu-system-x86_64
	GuestAgent    string // the static guest agent that is /init
	Image         Image  // kernel (PVH vmlinux) and initramfs
	AgentImage    Image  // the same kernel, initramfs with the built-in agent (when SetupOptions.Agent)
	KernelRelease string // guest `uname -r`
	KernelPackage string // Debian package=version the kernel came from
	Busybox       string // Debian package=version of the guest userland
	CacheDir      string
	Cached        bool   // nothing had to be built or downloaded
	Summary       string // one line for a person
}

// Setup makes the host ready to boot sandboxes: QEMU present (installed with
// apt-get when running as root on Debian), guest agent found, guest kernel
// and initramfs built into the cache. It is idempotent and cheap when done.
func Setup(ctx context.Context, o SetupOptions) (*SetupResult, error) {
	r, err := setup.Run(ctx, setup.Options{CacheDir: o.CacheDir, Progress: o.Progress, Refresh: o.Refresh, Agent: o.Agent})
	if err != nil {
		if errors.Is(err, setup.ErrMissingDependency) {
			return nil, fmt.Errorf("%w: %w", ErrMissingDependency, err)
		}
		return nil, err
	}
	res := &SetupResult{
		QEMU:          r.QEMU,
		GuestAgent:    r.GuestAgent,
		Image:         Image{Kernel: r.Kernel, Initramfs: r.Initramfs},
		KernelRelease: r.KernelRelease,
		KernelPackage: r.KernelPackage,
		Busybox:       r.Busybox,
		CacheDir:      r.CacheDir,
		Cached:        r.Cached,
		Summary:       r.Summary(),
	}
	if r.AgentInitramfs != "" {
		res.AgentImage = Image{Kernel: r.Kernel, Initramfs: r.AgentInitramfs}
	}
	return res, nil
}

// prepareHost resolves QEMU, the guest image and the accelerator.
func prepareHost(ctx context.Context, cfg Config) (hostEnv, error) {
	var env hostEnv
	env.qemu, env.image = cfg.QEMU, cfg.Image
	if env.image.Kernel == "" {
		r, err := Setup(ctx, SetupOptions{CacheDir: cfg.CacheDir, Progress: cfg.Progress})
		if err != nil {
			return env, err
		}
		env.image = r.Image
		if env.qemu == "" {
			env.qemu = r.QEMU
		}
	}
	if env.qemu == "" {
		q, err := setup.FindQEMU()
		if err != nil {
			return env, fmt.Errorf("%w: %w", ErrMissingDependency, err)
		}
		env.qemu = q
	}
	for _, f := range []string{env.image.Kernel, env.image.Initramfs} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return env, fmt.Errorf("%w: guest image: %w", ErrMissingDependency, err)
		}
	}
	probe := vmm.HostProbe{}
	var err error
	env.accel, err = probe.ChooseAccel(cfg.Accel)
	if err != nil {
		return env, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if env.accel.Accel == vmm.TCG {
		env.tscKHz, _ = probe.TSCkHz()
	}
	return env, nil
}
