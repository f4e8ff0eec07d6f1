package voidbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/voidbox/voidbox/internal/admission"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/imagedisk"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
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
	// Kernel is the guest kernel: "generic" (Debian's linux-image) or
	// "slim" (built on this host from linux-source-6.1 when missing,
	// everything built in). "" means $VOIDBOX_KERNEL, else generic.
	// Sandboxes boot the one HostOptions.Kernel (or $VOIDBOX_KERNEL) names.
	Kernel string
}

// SetupResult describes a host that can boot sandboxes.
type SetupResult struct {
	QEMU          string // qemu-system-x86_64
	GuestInit     string // the static guest init (PID 1) in the image
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
// apt-get when running as root on Debian), the guest programs found or built,
// the guest kernel and initramfs built into the cache. It is idempotent and
// cheap when done. New and Run never do this themselves: call Setup (or run
// `voidbox setup`) once first.
func Setup(ctx context.Context, o SetupOptions) (*SetupResult, error) {
	r, err := setup.Run(ctx, setup.Options{CacheDir: o.CacheDir, Progress: o.Progress, Refresh: o.Refresh, Agent: o.Agent, Kernel: o.Kernel})
	if err != nil {
		return nil, missing(err)
	}
	return setupResult(r), nil
}

func setupResult(r *setup.Result) *SetupResult {
	res := &SetupResult{
		QEMU:          r.QEMU,
		GuestInit:     r.GuestInit,
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
	return res
}

func missing(err error) error {
	if errors.Is(err, setup.ErrMissingDependency) && !errors.Is(err, ErrMissingDependency) {
		return fmt.Errorf("%w: %w", ErrMissingDependency, err)
	}
	return err
}

// hostEnv is everything resolved on the host before boots.
type hostEnv struct {
	sandbox.Host
	base       Image // the prepared (or given) image of command stages
	agentImage Image // the image of built-in agent stages, when asked for
	cacheDir   string
}

// image is the image a sandbox boots: its own override, else the host's.
func (h hostEnv) image(own Image) Image {
	if own.Kernel != "" {
		return own
	}
	return h.base
}

// config is the boot of one sandbox on this host.
func (h hostEnv) config(name string, p policy.Sandbox, im Image) sandbox.Config {
	return h.Host.Config(name, p, im.Kernel, im.Initramfs)
}

// resolveHost finds QEMU and the prepared guest image (with the agent's when
// agents is set) and decides the accelerator. It changes nothing on the
// host: what is missing is an ErrMissingDependency that says to run set-up.
func resolveHost(ctx context.Context, h HostOptions, agents bool) (hostEnv, error) {
	if err := errors.Join(h.problems()...); err != nil {
		return hostEnv{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	env := hostEnv{base: h.Image, cacheDir: h.CacheDir}
	env.QEMU, env.Logger, env.BootTimeout = h.QEMU, h.Logger, h.BootTimeout
	env.Images = imagedisk.New(h.CacheDir)
	env.CPUModel = os.Getenv("VOIDBOX_QEMU_CPU")
	if env.base.Kernel == "" || agents {
		r, err := setup.Lookup(ctx, setup.Options{CacheDir: h.CacheDir, Agent: agents, Kernel: h.Kernel})
		if err != nil {
			return env, missing(err)
		}
		if env.base.Kernel == "" {
			env.base = Image{Kernel: r.Kernel, Initramfs: r.Initramfs}
		}
		if env.QEMU == "" {
			env.QEMU = r.QEMU
		}
		if agents {
			env.agentImage = Image{Kernel: r.Kernel, Initramfs: r.AgentInitramfs}
		}
	}
	if env.QEMU == "" {
		q, err := setup.FindQEMU()
		if err != nil {
			return env, missing(err)
		}
		env.QEMU = q
	}
	for _, f := range []string{env.base.Kernel, env.base.Initramfs} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return env, fmt.Errorf("%w: guest image: %w", ErrMissingDependency, err)
		}
	}
	want := h.Accel
	if want == "" {
		want = os.Getenv("VOIDBOX_ACCEL")
	}
	verdicts := ""
	if root, err := guestimage.CacheRoot(h.CacheDir); err == nil {
		verdicts = filepath.Join(root, "accel")
		env.Snapshots = filepath.Join(root, "snapshots") // voidbox snapshot create's store
	}
	// Once per run: every VM of the run is jailed the same way.
	env.Confine = vmm.ProbeConfinement(ctx, env.QEMU)
	var err error
	base := env.config("kvm-smoke", policy.Sandbox{}, env.base)
	env.Accel, env.TSCkHz, err = sandbox.ChooseAccel(ctx, vmm.HostProbe{}, want, base, verdicts)
	if err != nil {
		return env, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// One gate for every VM of this run (they share its wake-ups).
	env.Admission, err = sandbox.DefaultGate(env.Accel.Accel, admission.Options{BootSlots: h.BootSlots, MemoryMiB: int64(h.MemoryBudgetMiB)})
	if err != nil {
		return env, err
	}
	return env, nil
}
