package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/snapshot"
	"github.com/voidbox/voidbox/internal/vmm"
)

// Snapshottable says why cfg cannot be snapshotted or restored, or nil.
// What a snapshot cannot carry is refused rather than half-restored: host
// directories (9p state lives in QEMU, virtiofs needs memfd memory) and
// block devices (an image file that changed under a restored guest's page
// cache would corrupt it).
func Snapshottable(cfg Config) error {
	var why []string
	if cfg.Policy.Image != "" {
		why = append(why, "an OCI image root")
	}
	if len(cfg.Policy.Mounts) > 0 {
		why = append(why, "host mounts")
	}
	if len(cfg.ImageMounts) > 0 {
		why = append(why, "image mounts (OCI skills)")
	}
	if len(cfg.Shares) > 0 {
		why = append(why, "shared host directories (runtimes, outputs, inputs)")
	}
	// A restored guest would keep the template's interface, addresses and
	// connection state; it needs a NIC of its own first.
	if cfg.Policy.HasNetwork() || len(cfg.Policy.Ports) > 0 {
		why = append(why, "a network")
	}
	if len(why) > 0 {
		return fmt.Errorf("%w: snapshots do not support %s yet", ErrInvalid, strings.Join(why, ", "))
	}
	return nil
}

// MachineOf is what a snapshot of cfg is taken of, and what a restore into
// cfg must match.
func MachineOf(ctx context.Context, cfg Config) (snapshot.Machine, error) {
	cfg = cfg.withDefaults()
	var m snapshot.Machine
	var err error
	if m.Kernel, err = imageFile(cfg.Kernel); err != nil {
		return m, err
	}
	if cfg.Initramfs != "" {
		if m.Initramfs, err = imageFile(cfg.Initramfs); err != nil {
			return m, err
		}
	}
	if m.QEMUVersion, err = vmm.Version(ctx, cfg.QEMU); err != nil {
		return m, fmt.Errorf("%w: %w", ErrMissingDependency, err)
	}
	m.Accel, m.CPUModel = string(cfg.Accel.Accel), cfg.CPUModel
	m.MemoryMiB, m.VCPUs = cfg.Policy.MemoryMiB, cfg.Policy.VCPUs
	// The CA bundle is the guest's too: the template's handshake installs it.
	b, err := json.Marshal(struct {
		Guest   any
		CACerts string
	}{cfg.Policy.Wire(), string(cfg.Policy.CACerts)})
	if err != nil {
		return m, err
	}
	sum := sha256.Sum256(b)
	m.Policy = hex.EncodeToString(sum[:])
	return m, nil
}

func imageFile(path string) (snapshot.File, error) {
	d, err := snapshot.Digest(path)
	if err != nil {
		return snapshot.File{}, fmt.Errorf("%w: guest image: %w", ErrMissingDependency, err)
	}
	return snapshot.File{Path: path, SHA256: d}, nil
}

// Template boots cfg, parks its guest init right after the handshake
// (before any command, file or secret of a stage reaches it) and saves the
// VM into dir, an empty private directory; the VM is then stopped. m is
// MachineOf(cfg).
func Template(ctx context.Context, cfg Config, m snapshot.Machine, dir string) (snapshot.Meta, error) {
	meta, _, err := template(ctx, cfg, m, dir, false)
	return meta, err
}

// TemplateInMemory is Template with guest RAM kept as a sealed image for
// restores in this process (RestoreChecked) instead of written to dir,
// which holds the device state and meta only; the caller closes the
// image.
func TemplateInMemory(ctx context.Context, cfg Config, m snapshot.Machine, dir string) (snapshot.Meta, *vmm.MemoryImage, error) {
	return template(ctx, cfg, m, dir, true)
}

func template(ctx context.Context, cfg Config, m snapshot.Machine, dir string, inMemory bool) (snapshot.Meta, *vmm.MemoryImage, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return snapshot.Meta{}, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := Snapshottable(cfg); err != nil {
		return snapshot.Meta{}, nil, err
	}
	cfg = cfg.withDefaults()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return snapshot.Meta{}, nil, err
	}
	mem := vmm.MemoryFile{Template: true}
	if !inMemory {
		mem.Path = filepath.Join(dir, snapshot.MemoryFile)
	}
	slot, err := admit(ctx, cfg)
	if err != nil {
		return snapshot.Meta{}, nil, err
	}
	defer slot.Release()
	start := time.Now()
	vm, err := vmm.Start(ctx, vmConfig(cfg, secret, mem, ""))
	if err != nil {
		return snapshot.Meta{}, nil, &BootError{Reason: "starting qemu: " + err.Error()}
	}
	defer vm.Close()
	bootCtx, stopWatch := watchBoot(ctx, vm.PID(), cfg.BootTimeout, start)
	w, err := control.HandshakePark(bootCtx, vm.Conn(), secret, control.Options{Policy: cfg.Policy.Wire(), CACerts: string(cfg.Policy.CACerts)})
	stopWatch()
	if err != nil {
		return snapshot.Meta{}, nil, bootFailed(ctx, vm, err, &storage{}, nil)
	}
	saved := time.Now()
	if err := vm.Save(ctx, filepath.Join(dir, snapshot.StateFile)); err != nil {
		return snapshot.Meta{}, nil, fmt.Errorf("saving the template: %w", err)
	}
	meta := snapshot.Meta{
		Format: snapshot.FormatVersion, Created: time.Now().UTC(), Machine: m,
		Secret: hex.EncodeToString(secret), GuestKernel: w.Kernel, InitVersion: w.InitVersion,
		SaveMS: time.Since(saved).Milliseconds(),
	}
	var img *vmm.MemoryImage
	if inMemory {
		if img, err = vm.TakeMemory(); err != nil {
			return snapshot.Meta{}, nil, fmt.Errorf("saving the template: %w", err)
		}
		meta.MemoryBytes = img.Allocated()
	} else {
		vm.Close()
		meta.MemoryBytes = allocated(mem.Path)
	}
	meta.StateBytes = allocated(filepath.Join(dir, snapshot.StateFile))
	if err := snapshot.Write(dir, meta); err != nil {
		if img != nil {
			img.Close()
		}
		return snapshot.Meta{}, nil, err
	}
	return meta, img, nil
}

// Restore starts a VM for cfg from the snapshot in dir, refused with the
// reasons when the snapshot was taken of another machine. The restored
// guest is made its own before it answers: a fresh secret (the snapshot's
// is refused from then on), reseeded RNG, the host's clock, a new
// hostname. The memory file is copied into a sealed image the VM maps
// private: the snapshot is never written.
func Restore(ctx context.Context, cfg Config, dir string) (*Sandbox, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := Snapshottable(cfg); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	meta, err := snapshot.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := snapshot.CheckPrivate(dir); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	want, err := MachineOf(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := meta.Check(want); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, dir, err)
	}
	img, err := OpenMemory(dir)
	if err != nil {
		return nil, err
	}
	// The VM's QEMU holds the image from its start on.
	defer img.Close()
	return restore(ctx, cfg, dir, meta, img)
}

// OpenMemory loads the memory of the snapshot in dir into a sealed image
// that any number of restores share (RestoreChecked); the caller closes it.
func OpenMemory(dir string) (*vmm.MemoryImage, error) {
	img, err := vmm.OpenMemoryImage(filepath.Join(dir, snapshot.MemoryFile))
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot %s: %w", ErrInvalid, dir, err)
	}
	return img, nil
}

// RestoreChecked is Restore for a snapshot whose meta.Check already passed
// against cfg in this process (the warm starts of a run), its memory
// already loaded as img (OpenMemory).
func RestoreChecked(ctx context.Context, cfg Config, dir string, meta snapshot.Meta, img *vmm.MemoryImage) (*Sandbox, error) {
	if err := Snapshottable(cfg); err != nil {
		return nil, err
	}
	return restore(ctx, cfg.withDefaults(), dir, meta, img)
}

func restore(ctx context.Context, cfg Config, dir string, meta snapshot.Meta, img *vmm.MemoryImage) (*Sandbox, error) {
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
	vm, err := vmm.Start(ctx, vmConfig(cfg, secret,
		vmm.MemoryFile{Image: img}, filepath.Join(dir, snapshot.StateFile)))
	if err != nil {
		slot.Release()
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &BootError{Reason: "restoring qemu: " + err.Error()}
	}
	bootCtx, stopWatch := watchBoot(ctx, vm.PID(), cfg.BootTimeout, start)
	client, err := control.Resume(bootCtx, vm.Conn(), control.ResumeOptions{
		Secret: old, NewSecret: secret, Hostname: Hostname(cfg.Name),
		Listeners: cfg.Listeners, Services: cfg.Services})
	stopWatch()
	if err != nil {
		return nil, bootFailed(ctx, vm, err, &storage{}, slot)
	}
	s := newSandbox(cfg, vm, client, start, &storage{}, slot, nil, nil)
	s.info.Snapshot = dir
	return s, nil
}

// vmConfig is the QEMU of cfg with guest RAM in mem, restored from the
// state file incoming when set.
func vmConfig(cfg Config, secret []byte, mem vmm.MemoryFile, incoming string) vmm.Config {
	return vmm.Config{
		QEMU: cfg.QEMU, Kernel: cfg.Kernel, Initramfs: cfg.Initramfs, Policy: cfg.Policy,
		Accel: cfg.Accel.Accel, TSCkHz: cfg.TSCkHz, Secret: secret, Name: cfg.Name,
		ConsoleLog: cfg.ConsoleLog, VirtioFSD: cfg.VirtioFSD, CPUModel: cfg.CPUModel, Confine: cfg.Confine,
		Memory: mem, Incoming: incoming,
	}
}

// Hostname is a restored VM's hostname: its name and a random suffix, so
// no two copies of a snapshot share one.
func Hostname(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		b.WriteString("voidbox")
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	return b.String() + "-" + hex.EncodeToString(suffix)
}

// allocated is the disk space a file takes (the memory file is sparse:
// pages the guest never touched take none).
func allocated(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// bootSnapshot starts cfg from the snapshot its policy names: a fresh
// restore each time (a retry never reuses a VM), refused with the
// differences when the snapshot was taken of another machine.
func bootSnapshot(ctx context.Context, cfg Config) (*Sandbox, error) {
	ref := cfg.Policy.Snapshot
	if !strings.Contains(ref, "/") && cfg.Snapshots == "" {
		return nil, fmt.Errorf("%w: snapshot %q: this host has no snapshot store (name a snapshot directory instead)", ErrInvalid, ref)
	}
	dir, err := snapshot.Store{Dir: cfg.Snapshots}.Resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Restore(ctx, cfg, dir)
}
