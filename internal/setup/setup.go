package setup

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/voidbox/voidbox/internal/artifact"
	"github.com/voidbox/voidbox/internal/guestimage"
)

// Options configures Run.
type Options struct {
	// CacheDir is the cache root; "" means guestimage's default ($VOIDBOX_CACHE_DIR, XDG, ~/.cache).
	CacheDir string
	// Progress receives one line per install, build or download step. Nil means silent.
	Progress io.Writer
	// Refresh re-resolves the Debian package versions recorded in the cache.
	Refresh bool
	// GuestInit is the static guest init (PID 1) binary; "" means Find(GuestInit).
	GuestInit string
	// Image carries further image options (Modules, Layers, Packages, KernelPackage). Its CacheDir,
	// GuestInit, Progress and Refresh are replaced by the fields above.
	Image guestimage.Options
	// Agent also prepares the image of agent stages: the base image plus the
	// built-in agent binary (found or built like the guest init).
	Agent bool
	// Kernel is the guest kernel: KernelGeneric or KernelSlim; "" means
	// $VOIDBOX_KERNEL, else generic. Run builds the slim kernel when it is
	// asked for and missing; Lookup does not.
	Kernel string
}

// Result is what a prepared host has.
type Result struct {
	QEMU      string // path of qemu-system-x86_64
	GuestInit string // path of the static guest init that is /init in the image
	*guestimage.Artifacts
	// AgentInitramfs is the initramfs of agent stages (base + voidbox-agent
	// at AgentGuestPath); set when Options.Agent.
	AgentInitramfs string
}

// Summary is one line for a person.
func (r *Result) Summary() string {
	return fmt.Sprintf("%s; qemu %s", r.Artifacts.Summary(), r.QEMU)
}

// Run makes the host ready: QEMU present (installed when possible), guest init found or built,
// guest image in the cache.
func Run(ctx context.Context, o Options) (*Result, error) {
	kernel, err := KernelChoice(o.Kernel)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	qemu, err := EnsureQEMU(ctx, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	var initBin string
	if o.GuestInit != "" {
		initBin, err = checkedBinary(o.GuestInit, "Options.GuestInit")
	} else {
		initBin, err = Find(ctx, GuestInit, o.CacheDir, o.Progress)
	}
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	img := o.Image
	img.CacheDir, img.GuestInit, img.Progress, img.Refresh = o.CacheDir, initBin, o.Progress, o.Refresh
	if kernel == KernelSlim {
		k, err := EnsureSlimKernel(ctx, SlimOptions{CacheDir: o.CacheDir, Progress: o.Progress})
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		img.Prebuilt = prebuilt(k)
	}
	a, err := guestimage.Ensure(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	r := &Result{QEMU: qemu, GuestInit: initBin, Artifacts: a}
	if o.Agent {
		bin, err := Find(ctx, AgentBinary, o.CacheDir, o.Progress)
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		img.Layers = append(append([]guestimage.Layer(nil), img.Layers...), agentLayer{bin})
		aa, err := guestimage.Ensure(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("setup: agent image: %w", err)
		}
		r.AgentInitramfs = aa.Initramfs
	}
	return r, nil
}

// Lookup returns what Run would, when the host is already prepared, without
// installing, building, downloading or locking anything: QEMU on the host,
// the guest programs where Run put them, the image in the cache. A host
// that is not prepared is a *MissingDependencyError saying to run set-up.
func Lookup(ctx context.Context, o Options) (*Result, error) {
	qemu, err := FindQEMU()
	if err != nil {
		return nil, err
	}
	initBin := o.GuestInit
	if initBin == "" {
		if initBin, err = Locate(GuestInit, o.CacheDir); err != nil {
			return nil, err
		}
	}
	img := o.Image
	img.CacheDir, img.GuestInit = o.CacheDir, initBin
	kernel, err := KernelChoice(o.Kernel)
	if err != nil {
		return nil, err
	}
	if kernel == KernelSlim {
		k, err := LookupSlimKernel(o.CacheDir)
		if err != nil {
			return nil, err
		}
		img.Prebuilt = prebuilt(k)
	}
	a, err := guestimage.Lookup(ctx, img)
	if err != nil {
		return nil, notPrepared(err)
	}
	r := &Result{QEMU: qemu, GuestInit: initBin, Artifacts: a}
	if o.Agent {
		bin, err := Locate(AgentBinary, o.CacheDir)
		if err != nil {
			return nil, err
		}
		img.Layers = append(append([]guestimage.Layer(nil), img.Layers...), agentLayer{bin})
		aa, err := guestimage.Lookup(ctx, img)
		if err != nil {
			return nil, notPrepared(err)
		}
		r.AgentInitramfs = aa.Initramfs
	}
	return r, nil
}

func notPrepared(err error) error {
	switch {
	case errors.Is(err, artifact.ErrDamaged):
		return &MissingDependencyError{What: "an intact guest image", Err: err,
			Hint: fmt.Sprintf("%v; run `voidbox setup` (or call voidbox.Setup) to repair the cache", err)}
	case errors.Is(err, guestimage.ErrNotPrepared):
		return &MissingDependencyError{What: "the prepared guest image", Err: err,
			Hint: fmt.Sprintf("%v; run `voidbox setup` (or call voidbox.Setup) first", err)}
	}
	return err
}
