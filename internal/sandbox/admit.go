package sandbox

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/voidbox/voidbox/internal/admission"
	"github.com/voidbox/voidbox/internal/vmm"
)

// DefaultGate is the gate of boots whose Config has none: the user's
// shared directory with the budget from $VOIDBOX_BOOT_SLOTS,
// $VOIDBOX_MEMORY_BUDGET or the host (see admission.Resolve).
func DefaultGate(accel vmm.Accel, o admission.Options) (*admission.Gate, error) {
	h, err := admission.ReadHost()
	if err != nil {
		return nil, fmt.Errorf("%w: admission: %w", ErrInvalid, err)
	}
	o.KVM = accel == vmm.KVM
	b, err := admission.Resolve(o, h, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return admission.New(admission.DefaultDir(), b)
}

// admit waits at cfg's gate for a boot slot and the VM's memory.
func admit(ctx context.Context, cfg Config) (*admission.Slot, error) {
	g := cfg.Admission
	if g == nil {
		var err error
		if g, err = DefaultGate(cfg.Accel.Accel, admission.Options{}); err != nil {
			return nil, err
		}
	}
	queued := false
	onWait := func(st admission.Status) {
		queued = true
		cfg.Logger.Info("sandbox waiting for a VM slot", "name", cfg.Name, "status", st.String())
		if cfg.OnQueued != nil {
			cfg.OnQueued(st)
		}
	}
	slot, err := g.Acquire(ctx, admission.Request{Name: cfg.Name, MemoryMiB: admission.Charge(cfg.Policy.MemoryMiB)}, onWait)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, fmt.Errorf("waiting for a VM slot: %w", context.Cause(ctx))
	default:
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if queued && cfg.OnAdmitted != nil {
		cfg.OnAdmitted(slot.Waited().Round(time.Millisecond))
	}
	return slot, nil
}
