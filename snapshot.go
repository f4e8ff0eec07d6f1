package voidbox

import (
	"context"

	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/snapshot"
)

// SnapshotMeta describes a snapshot: what it was taken of (a restore into
// anything else is refused, naming the differences) and its sizes.
type SnapshotMeta = snapshot.Meta

// ErrSnapshotMismatch marks a snapshot refused because it was taken of
// another kernel, image, QEMU, memory size, vCPU count or guest policy.
var ErrSnapshotMismatch = snapshot.ErrMismatch

// CreateSnapshot boots cfg's sandbox, parks its guest right after the
// handshake (before any command, file or env of a caller reaches it) and
// saves it into dir, an empty directory of mode 0700; the VM is then
// stopped. Sandboxes with an OCI image root, host mounts or a network are
// refused. QEMU runs confined as for any boot: it gets the memory and the
// state file as descriptors.
func CreateSnapshot(ctx context.Context, cfg Config, dir string) (SnapshotMeta, error) {
	c, err := sandboxConfig(ctx, cfg)
	if err != nil {
		return SnapshotMeta{}, err
	}
	m, err := sandbox.MachineOf(ctx, c)
	if err != nil {
		return SnapshotMeta{}, err
	}
	return sandbox.Template(ctx, c, m, dir)
}

// Restore starts a sandbox for cfg from the snapshot in dir: a private
// copy-on-write mapping of its memory (loaded into a sealed memfd: the
// snapshot is never written), a
// fresh control secret, reseeded RNG, the host's clock and a new
// hostname. A snapshot of another machine is refused
// (errors.Is(err, ErrSnapshotMismatch)).
func Restore(ctx context.Context, cfg Config, dir string) (*Sandbox, error) {
	c, err := sandboxConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s, err := sandbox.Restore(ctx, c, dir)
	if err != nil {
		return nil, err
	}
	return &Sandbox{s: s}, nil
}

// sandboxConfig is the boot configuration of cfg on this host.
func sandboxConfig(ctx context.Context, cfg Config) (sandbox.Config, error) {
	if err := cfg.Validate(); err != nil {
		return sandbox.Config{}, err
	}
	host := cfg.Host
	if cfg.Image.Kernel != "" {
		host.Image = cfg.Image
	}
	h, err := resolveHost(ctx, host, false)
	if err != nil {
		return sandbox.Config{}, err
	}
	c := h.config(cfg.Name, cfg.Policy, h.image(cfg.Image))
	c.ConsoleLog = cfg.ConsoleLog
	return c, nil
}
