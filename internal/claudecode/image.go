package claudecode

import (
	"fmt"
	"path"
	"path/filepath"

	"github.com/voidbox/voidbox/internal/artifact"
)

// GuestDir is where the guest mounts a flavour directory (read-only).
const GuestDir = "/opt/voidbox/claude-code"

// Image is a built claude-code flavour: a directory in the voidbox cache
// that the guest mounts at GuestDir. Paths in Binary, Shell and Libs are
// relative to Dir on the host and to GuestDir in the guest.
type Image struct {
	// Dir is the flavour directory on the host.
	Dir string `json:"dir"`
	// Version is the claude-code version.
	Version string `json:"version"`
	// Binary is the claude executable, "bin/claude".
	Binary string `json:"binary"`
	// Shell is Debian's bash, "bin/bash": claude-code's Bash tool refuses
	// any shell whose path does not contain "bash" or "zsh", and busybox
	// has no bash applet.
	Shell string `json:"shell"`
	// Libs are the shared libraries the binaries need, "lib/libc.so.6" …,
	// the dynamic loader among them.
	Libs []string `json:"libs"`
	// GuestDir is where the guest mounts Dir.
	GuestDir string `json:"guest_dir"`
	// Loader is the guest path of the dynamic loader inside the flavour.
	Loader string `json:"loader"`
	// Interp is the loader path compiled into the binaries (PT_INTERP),
	// where the guest must make Loader appear.
	Interp string `json:"interp"`
	// Integrity is the npm tarball's dist.integrity, which the build verified.
	Integrity string `json:"integrity"`
	// Debian lists the Debian packages the libraries and bash came from.
	Debian []Package `json:"debian"`
	// Size is the bytes of every file in Dir.
	Size int64 `json:"size"`
	// Records are every file's size and sha256 as built (relative to Dir);
	// nil for flavours built before records existed.
	Records artifact.Set `json:"-"`
}

// Package is one Debian package version.
type Package struct {
	Name    string `json:"package"`
	Version string `json:"version"`
}

// Symlink is a link the guest creates: Link points at Target.
type Symlink struct {
	Link   string `json:"link"`
	Target string `json:"target"`
}

// GuestPath returns the guest path of rel, a path relative to the flavour.
func (im *Image) GuestPath(rel string) string {
	return path.Join(im.GuestDir, filepath.ToSlash(rel))
}

// HostPath returns the host path of rel, a path relative to the flavour.
func (im *Image) HostPath(rel string) string {
	return filepath.Join(im.Dir, filepath.FromSlash(rel))
}

// GuestSymlinks are the links that make the flavour's glibc the guest's:
// the loader at the path compiled into the binaries, and every library in
// the directory the loader searches by default. The guest's busybox root
// has no glibc of its own, so nothing is shadowed.
func (im *Image) GuestSymlinks() []Symlink {
	links := []Symlink{{Link: im.Interp, Target: im.Loader}}
	for _, l := range im.Libs {
		target := im.GuestPath(l)
		if target == im.Loader {
			continue
		}
		links = append(links, Symlink{Link: path.Join("/lib/x86_64-linux-gnu", path.Base(l)), Target: target})
	}
	return links
}

// Summary is one line for people: version, glibc, where, how big.
func (im *Image) Summary() string {
	libc := ""
	for _, p := range im.Debian {
		if p.Name == "libc6" {
			libc = ", glibc " + p.Version
		}
	}
	return fmt.Sprintf("claude-code %s%s: %s (%s), mounted at %s in the guest",
		im.Version, libc, im.Dir, humanBytes(im.Size), im.GuestDir)
}

// humanBytes renders n as "402 MB" (decimal units, as download sizes are quoted).
func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%d MB", (n+5e5)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%d kB", (n+500)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
