package setup

import (
	"context"
	"fmt"
	"io"

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
	// GuestAgent is the static guest agent binary; "" means Find(GuestInit).
	GuestAgent string
	// Image carries further image options (Modules, Layers, Packages, KernelPackage). Its CacheDir,
	// GuestAgent, Progress and Refresh are replaced by the fields above.
	Image guestimage.Options
	// Agent also prepares the image of agent stages: the base image plus the
	// built-in agent binary (found or built like the guest agent).
	Agent bool
}

// Result is what a prepared host has.
type Result struct {
	QEMU       string // path of qemu-system-x86_64
	GuestAgent string // path of the static guest agent that is /init in the image
	*guestimage.Artifacts
	// AgentInitramfs is the initramfs of agent stages (base + voidbox-agent
	// at AgentGuestPath); set when Options.Agent.
	AgentInitramfs string
}

// Summary is one line for a person.
func (r *Result) Summary() string {
	return fmt.Sprintf("%s; qemu %s", r.Artifacts.Summary(), r.QEMU)
}

// Run makes the host ready: QEMU present (installed when possible), guest agent found or built,
// guest image in the cache.
func Run(ctx context.Context, o Options) (*Result, error) {
	qemu, err := EnsureQEMU(ctx, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	var agent string
	if o.GuestAgent != "" {
		agent, err = checkedBinary(o.GuestAgent, "Options.GuestAgent")
	} else {
		agent, err = Find(ctx, GuestInit, o.CacheDir, o.Progress)
	}
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	img := o.Image
	img.CacheDir, img.GuestAgent, img.Progress, img.Refresh = o.CacheDir, agent, o.Progress, o.Refresh
	a, err := guestimage.Ensure(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	r := &Result{QEMU: qemu, GuestAgent: agent, Artifacts: a}
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
