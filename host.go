package voidbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/guestimage"
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
	var err error
	env.accel, err = cfg.probe.ChooseAccel(cfg.Accel)
	if err != nil {
		return env, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	env.tscKHz, _ = cfg.probe.TSCkHz()
	if env.accel.NeedsSmokeBoot {
		env.accel = smokeTestKVM(ctx, cfg, env)
	}
	return env, nil
}

// smokeTestKVM boots once with KVM before trusting it: some hosts offer a
// /dev/kvm on which stock guests crash (PVM, nested set-ups). The verdict is
// cached per QEMU binary and guest image, so only the first sandbox pays.
func smokeTestKVM(ctx context.Context, cfg Config, env hostEnv) vmm.AccelChoice {
	root, err := guestimage.CacheRoot(cfg.CacheDir)
	if err != nil {
		return vmm.AccelChoice{Accel: vmm.TCG, Reason: "KVM not verified (no cache for the smoke-boot verdict): " + err.Error()}
	}
	sum := sha256.Sum256([]byte(env.qemu + "\x00" + env.image.Kernel + "\x00" + env.image.Initramfs))
	verdictFile := filepath.Join(root, "accel", hex.EncodeToString(sum[:8])+".json")
	var v vmm.AccelChoice
	if b, err := os.ReadFile(verdictFile); err == nil && json.Unmarshal(b, &v) == nil && v.Accel != "" {
		return v
	}
	kvm := env
	kvm.accel = vmm.AccelChoice{Accel: vmm.KVM}
	smoke := cfg
	smoke.Name, smoke.BootTimeout, smoke.ConsoleLog = "kvm-smoke", 30*time.Second, ""
	smoke.listeners, smoke.services, smoke.shares = nil, nil, nil
	sb, err := boot(ctx, smoke, kvm)
	if err == nil {
		err = sb.Ping(ctx)
		sb.Close()
	}
	if ctx.Err() != nil {
		// Interrupted, not a verdict: use TCG this time, decide next time.
		return vmm.AccelChoice{Accel: vmm.TCG, Reason: "KVM smoke boot interrupted"}
	}
	if err == nil {
		v = vmm.AccelChoice{Accel: vmm.KVM, Reason: env.accel.Reason + "; smoke boot passed"}
	} else {
		first, _, _ := strings.Cut(err.Error(), "\n")
		v = vmm.AccelChoice{Accel: vmm.TCG, Reason: "KVM smoke boot failed (" + first + "), using TCG"}
	}
	if b, err := json.Marshal(v); err == nil && os.MkdirAll(filepath.Dir(verdictFile), 0o755) == nil {
		_ = os.WriteFile(verdictFile, b, 0o644)
	}
	return v
}
