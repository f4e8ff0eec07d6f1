package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/admission"
	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/snapshot"
	"github.com/voidbox/voidbox/internal/vmm"
)

// Parked is a VM restored from a template ahead of need: already re-keyed
// and reseeded (so it shares no secret or RNG state with the template or
// another copy), its guest parked until Resume gives it a box's name and
// listeners. What a warm pool holds. Each Parked becomes at most one
// Sandbox: Resume hands the VM over and nothing keeps it for reuse.
type Parked struct {
	vm    *vmm.Machine
	slot  *admission.Slot
	dir   string
	start time.Time

	mu     sync.Mutex // guards secret and done
	secret []byte     // the parked guest's, for the one Resume
	done   bool       // resumed or closed
}

// RestoreParked restores cfg's VM from the template in dir (whose
// meta.Check passed against cfg; memory loaded as img) and re-keys it,
// leaving it parked. The VM lives until Close, Resume's Sandbox is closed,
// or ctx ends: ctx is the owner's (a pool's), not a box's. Its boot slot
// is given back once the guest answered; its memory stays charged.
func RestoreParked(ctx context.Context, cfg Config, dir string, meta snapshot.Meta, img *vmm.MemoryImage) (*Parked, error) {
	if err := Snapshottable(cfg); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	old, err := hex.DecodeString(meta.Secret)
	if err != nil || len(old) < 16 {
		return nil, fmt.Errorf("%w: snapshot %s: malformed secret", ErrInvalid, dir)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	slot, err := admit(ctx, cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	vm, err := vmm.Start(ctx, vmConfig(cfg, secret, vmm.MemoryFile{Image: img}, filepath.Join(dir, snapshot.StateFile)))
	if err != nil {
		slot.Release()
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &BootError{Reason: "restoring qemu: " + err.Error()}
	}
	bootCtx, stopWatch := watchBoot(ctx, vm.PID(), cfg.BootTimeout, start)
	_, err = control.ResumePark(bootCtx, vm.Conn(), control.ResumeOptions{Secret: old, NewSecret: secret, Hostname: Hostname(cfg.Name)})
	stopWatch()
	if err != nil {
		return nil, bootFailed(ctx, vm, err, &storage{}, slot)
	}
	slot.Booted() // the next VM may boot; this one keeps its memory
	return &Parked{vm: vm, slot: slot, dir: dir, start: start, secret: secret}, nil
}

// PID is the parked VM's QEMU.
func (p *Parked) PID() int { return p.vm.PID() }

// Done is closed when the parked VM's QEMU has exited.
func (p *Parked) Done() <-chan struct{} { return p.vm.Done() }

// Resume makes the parked VM cfg's sandbox: a fresh secret again, the
// RNG reseeded and the clock set again, cfg's hostname and listeners.
// cfg must be of the configuration the VM was restored for (same key in
// internal/warm). On error the VM is stopped. At most once.
func (p *Parked) Resume(ctx context.Context, cfg Config) (*Sandbox, error) {
	p.mu.Lock()
	old, done := p.secret, p.done
	p.done, p.secret = true, nil
	p.mu.Unlock()
	if done {
		return nil, fmt.Errorf("%w: parked VM already resumed or closed", ErrInvalid)
	}
	if err := Snapshottable(cfg); err != nil {
		p.stop()
		return nil, err
	}
	cfg = cfg.withDefaults()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		p.stop()
		return nil, err
	}
	taken := time.Now()
	bootCtx, stopWatch := watchBoot(ctx, p.vm.PID(), cfg.BootTimeout, taken)
	client, err := control.Resume(bootCtx, p.vm.Conn(), control.ResumeOptions{
		Secret: old, NewSecret: secret, Hostname: Hostname(cfg.Name),
		Listeners: cfg.Listeners, Services: cfg.Services})
	stopWatch()
	if err != nil {
		return nil, bootFailed(ctx, p.vm, err, &storage{}, p.slot)
	}
	// Boot time is what the box waited for: the resume, not the restore
	// done ahead of it.
	s := newSandbox(cfg, p.vm, client, taken, &storage{}, p.slot, nil, nil)
	s.info.Snapshot = p.dir
	return s, nil
}

// Close stops a VM that was never resumed; after Resume it does nothing
// (the Sandbox owns the VM). Idempotent.
func (p *Parked) Close() error {
	p.mu.Lock()
	done := p.done
	p.done, p.secret = true, nil
	p.mu.Unlock()
	if !done {
		p.stop()
	}
	return nil
}

func (p *Parked) stop() {
	p.vm.Close()
	p.slot.Release()
}
