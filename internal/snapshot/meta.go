// Package snapshot is the on-disk form of a VM snapshot: a directory (0700)
// holding the guest's memory file, its device state and meta.json (each
// 0600), what the snapshot was taken of, and the check that refuses a
// restore into anything else. It knows nothing about QEMU or the guest.
package snapshot

import (
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
)

// Files of a snapshot directory.
const (
	MemoryFile = "memory"    // guest RAM, mapped private by each restore
	StateFile  = "state"     // device state (QEMU migration stream)
	MetaFile   = "meta.json" // Meta
)

// FormatVersion is Meta.Format; a snapshot of another format is refused.
const FormatVersion = 1

// ErrMismatch marks a snapshot refused because it was taken of something
// else than what would restore it.
var ErrMismatch = errors.New("snapshot does not match")

// Meta describes a snapshot: the fields of Machine must equal those of the
// VM restoring it; the rest informs.
type Meta struct {
	Format  int       `json:"format"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
	Machine Machine   `json:"machine"`
	// Secret is the parked guest's secret (hex): a restore proves itself
	// with it and replaces it. It is as private as the memory file, which
	// holds it too.
	Secret      string `json:"secret"`
	GuestKernel string `json:"guest_kernel,omitempty"`
	InitVersion string `json:"init_version,omitempty"`
	MemoryBytes int64  `json:"memory_bytes"` // allocated on disk
	StateBytes  int64  `json:"state_bytes"`
	SaveMS      int64  `json:"save_ms"`
}

// Machine is what a restoring VM must be identical to.
type Machine struct {
	Kernel      File   `json:"kernel"`
	Initramfs   File   `json:"initramfs"`
	QEMUVersion string `json:"qemu_version"`
	Accel       string `json:"accel"`
	CPUModel    string `json:"cpu_model"`
	MemoryMiB   int    `json:"memory_mib"`
	VCPUs       int    `json:"vcpus"`
	// Policy is the digest of the guest's part of the sandbox policy
	// (allowlist, limits, disk budget), which the parked guest holds.
	Policy string `json:"policy"`
}

// File is a guest image file, identified by its content.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Check returns nil if a VM described by want may restore this snapshot,
// else an ErrMismatch naming every difference.
func (m Meta) Check(want Machine) error {
	if m.Format != FormatVersion {
		return fmt.Errorf("%w: format %d, this voidbox reads %d", ErrMismatch, m.Format, FormatVersion)
	}
	h := m.Machine
	var why []string
	diff := func(what, snap, box string) {
		if snap != box {
			why = append(why, fmt.Sprintf("%s is %s in the snapshot, %s here", what, snap, box))
		}
	}
	diff("kernel", short(h.Kernel.SHA256), short(want.Kernel.SHA256))
	diff("initramfs", short(h.Initramfs.SHA256), short(want.Initramfs.SHA256))
	diff("QEMU", quote(h.QEMUVersion), quote(want.QEMUVersion))
	diff("accelerator", h.Accel, want.Accel)
	diff("cpu model", quote(h.CPUModel), quote(want.CPUModel))
	diff("memory", fmt.Sprintf("%d MiB", h.MemoryMiB), fmt.Sprintf("%d MiB", want.MemoryMiB))
	diff("vcpus", fmt.Sprint(h.VCPUs), fmt.Sprint(want.VCPUs))
	diff("guest policy (allowed commands, limits, disk)", short(h.Policy), short(want.Policy))
	if len(why) > 0 {
		return fmt.Errorf("%w: %s", ErrMismatch, strings.Join(why, "; "))
	}
	return nil
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	if d == "" {
		return "none"
	}
	return d
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// Read reads the meta.json of the snapshot in dir.
func Read(dir string) (Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		return Meta{}, fmt.Errorf("reading snapshot: %w", err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("reading snapshot %s: %w", dir, err)
	}
	return m, nil
}

// Write writes m as dir's meta.json (0600).
func Write(dir string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MetaFile), append(b, '\n'), 0o600)
}

// Digest is the sha256 of a file, hex.
func Digest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
