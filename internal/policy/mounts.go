package policy

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// MountMode says whether the guest may change a host mount.
type MountMode string

// Mount modes. The zero value is ReadOnly, the seed's default.
const (
	ReadOnly  MountMode = "ro"
	ReadWrite MountMode = "rw"
)

// Mount is a host directory shared into the guest.
type Mount struct {
	// Host is the absolute host path of an existing directory. Producers
	// resolve relative paths first (a spec against its file's directory,
	// the CLI against the working directory).
	Host string
	// Guest is the absolute, clean guest path it appears at.
	Guest string
	// Mode is ReadOnly ("" too) or ReadWrite. ReadOnly is enforced on the
	// host: the guest's requests reach a read-only mount of the directory.
	Mode MountMode
}

// Writable reports whether the guest may write the mount.
func (m Mount) Writable() bool { return m.Mode == ReadWrite }

// MaxMounts bounds the host mounts of one VM (each is a device and a
// helper process on the host).
const MaxMounts = 16

// reservedGuest are guest paths a mount may not cover: the guest's own
// system mounts and voidbox's private directories.
var reservedGuest = []string{"/proc", "/sys", "/dev", "/run", "/usr/lib/voidbox"}

// CheckGuestMountPath checks a guest mount point: absolute, clean, not
// the root and not under the guest's system directories.
func CheckGuestMountPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty guest path")
	case !path.IsAbs(p):
		return fmt.Errorf("%q is not an absolute guest path", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not clean (want %s)", p, path.Clean(p))
	case p == "/":
		return errors.New("cannot mount over the guest's root directory")
	case strings.ContainsAny(p, "\x00,"):
		return fmt.Errorf("%q contains a NUL byte or a comma", p)
	}
	for _, r := range reservedGuest {
		if within(p, r) {
			return fmt.Errorf("%s is reserved for the guest system (%s)", p, strings.Join(reservedGuest, ", "))
		}
	}
	return nil
}

// CheckHostMountPath checks the host side syntactically: absolute and
// clean. That the directory exists is checked by whoever boots.
func CheckHostMountPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty host path")
	case !filepath.IsAbs(p):
		return fmt.Errorf("%q is not absolute (producers resolve relative paths)", p)
	case filepath.Clean(p) != p:
		return fmt.Errorf("%q is not clean (want %s)", p, filepath.Clean(p))
	case strings.ContainsAny(p, "\x00\n"):
		return fmt.Errorf("%q contains a NUL byte or a newline", p)
	}
	return nil
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// Overlaps reports whether two guest paths are one inside the other.
func Overlaps(a, b string) bool { return within(a, b) || within(b, a) }

// CheckImageRef checks an OCI reference syntactically: the image cache
// resolves it (and says how to pull it) when a VM boots.
func CheckImageRef(ref string) error {
	switch {
	case ref == "":
		return errors.New("empty image reference")
	case strings.TrimSpace(ref) != ref || strings.ContainsAny(ref, " \t\n\x00"):
		return fmt.Errorf("image reference %q contains spaces", ref)
	case strings.HasPrefix(ref, "-"):
		return fmt.Errorf("image reference %q starts with '-'", ref)
	case len(ref) > 512:
		return fmt.Errorf("image reference of %d bytes is too long", len(ref))
	}
	return nil
}

func (s Sandbox) storageProblems(add func(field string, err error, also ...string)) {
	if s.Image != "" {
		add("image", CheckImageRef(s.Image))
	}
	if len(s.Mounts) > MaxMounts {
		add("mounts", fmt.Errorf("%d mounts, at most %d", len(s.Mounts), MaxMounts))
	}
	valid := map[int]bool{} // mounts whose guest path is usable, for the overlap check
	for i, m := range s.Mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		add(field+".host", CheckHostMountPath(m.Host))
		if err := CheckGuestMountPath(m.Guest); err != nil {
			add(field+".guest", err)
		} else {
			valid[i] = true
			for j, o := range s.Mounts[:i] {
				if valid[j] && Overlaps(m.Guest, o.Guest) {
					add(field+".guest", fmt.Errorf("%s overlaps mounts[%d] (%s): mounts may not nest", m.Guest, j, o.Guest))
					valid[i] = false
					break
				}
			}
		}
		if m.Mode != "" && m.Mode != ReadOnly && m.Mode != ReadWrite {
			add(field+".mode", fmt.Errorf("mode %q: want ro or rw", m.Mode))
		}
	}
}

func cloneMounts(ms []Mount) []Mount { return slices.Clone(ms) }
