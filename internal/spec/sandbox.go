package spec

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SandboxMode says how the VM backend is chosen.
type SandboxMode string

const (
	// SandboxAuto lets the runtime choose (accelerator, kernel, image).
	SandboxAuto SandboxMode = "auto"
	// SandboxLocal uses the local QEMU backend.
	SandboxLocal SandboxMode = "local"
)

// Sandbox limits and defaults.
const (
	DefaultMemoryMiB = 512
	MinMemoryMiB     = 64
	MaxMemoryMiB     = 1 << 20 // 1 TiB: keeps MemoryBytes far from overflow
	DefaultVCPUs     = 1
	MaxVCPUs         = 16
	// MaxTimeout bounds every timeout in a spec.
	MaxTimeout = 7 * 24 * time.Hour
)

// Sandbox is the micro-VM policy a box or step runs under. The top-level
// Spec.Sandbox holds what the spec's sandbox block says with defaults applied;
// every Box and Step carries its effective copy, with its own override merged.
type Sandbox struct {
	Mode SandboxMode
	// Kernel and Initramfs are absolute host paths of files that existed at
	// parse time, or "" for the built-in guest image.
	Kernel    string
	Initramfs string
	// MemoryMiB is the guest memory in MiB (1 MiB = 1<<20 bytes); see
	// MemoryBytes.
	MemoryMiB int
	VCPUs     int
	// Network is whether the guest has a network device. Always false today:
	// the parser rejects true until networking exists.
	Network bool
	Env     Env
	// Image and GuestImage are OCI references, passed through unchecked.
	Image      string
	GuestImage string
	// AllowedCommands is the command allowlist. nil means no allowlist; an
	// empty, non-nil list allows no command at all. See Allows.
	AllowedCommands []string
	// Timeout is the default timeout of one command run in the sandbox; zero
	// means the runtime's default.
	Timeout time.Duration
	// Pos is where the sandbox block (or the box's override) is; zero when
	// the spec has none.
	Pos Pos
}

func defaultSandbox() Sandbox {
	return Sandbox{Mode: SandboxAuto, MemoryMiB: DefaultMemoryMiB, VCPUs: DefaultVCPUs}
}

// MemoryBytes returns the guest memory in bytes.
func (s Sandbox) MemoryBytes() int64 { return int64(s.MemoryMiB) << 20 }

// Allows reports whether the allowlist lets cmd run: an entry matches the
// command as written or, for a bare-name entry, the last element of a path
// ("sh" allows "/bin/sh"; "/bin/sh" does not allow "sh").
func (s Sandbox) Allows(cmd string) bool {
	if s.AllowedCommands == nil {
		return true
	}
	base := path.Base(cmd)
	for _, a := range s.AllowedCommands {
		if a == cmd || (!strings.HasPrefix(a, "/") && a == base) {
			return true
		}
	}
	return false
}

// clone returns a copy that shares no maps or slices with s.
func (s Sandbox) clone() Sandbox {
	s.Env = s.Env.merged(nil)
	s.AllowedCommands = slices.Clone(s.AllowedCommands)
	return s
}

// sandbox decodes the top-level sandbox block.
func (d *decoder) sandbox(n *yamlNode, path string) Sandbox {
	s := defaultSandbox()
	f := d.mapping(n, path, &sandboxObject)
	if f == nil {
		return s
	}
	s.Pos = d.pos(f.node)
	if v, ok := f.str("mode"); ok {
		switch m := SandboxMode(v); m {
		case SandboxAuto, SandboxLocal:
			s.Mode = m
		case "mock":
			d.at(f.m["mode"].val, join(path, "mode"), "mock mode is not supported: voidbox always boots a VM")
		default:
			d.at(f.m["mode"].val, join(path, "mode"), "unknown mode %q (valid: auto, local)", v)
		}
	}
	s.Kernel = d.hostFile(f, "kernel")
	s.Initramfs = d.hostFile(f, "initramfs")
	if v, ok := f.str("image"); ok {
		s.Image = v
	}
	if v, ok := f.str("guest_image"); ok {
		s.GuestImage = v
	}
	if v, ok := f.duration("timeout", time.Nanosecond, MaxTimeout); ok {
		s.Timeout = v
	}
	d.sandboxLimits(f, &s)
	return s
}

// sandboxOverride decodes a box's or step's sandbox block over base.
func (d *decoder) sandboxOverride(n *yamlNode, path string, base Sandbox) Sandbox {
	s := base.clone()
	f := d.mapping(n, path, &sandboxOverrideObject)
	if f == nil {
		return s
	}
	s.Pos = d.pos(f.node)
	d.sandboxLimits(f, &s)
	return s
}

// sandboxLimits decodes the fields a box may override.
func (d *decoder) sandboxLimits(f *fields, s *Sandbox) {
	if v, ok := f.integer("memory_mb", MinMemoryMiB, MaxMemoryMiB); ok {
		s.MemoryMiB = v
	}
	if v, ok := f.integer("vcpus", 1, MaxVCPUs); ok {
		s.VCPUs = v
	}
	if v, ok := f.boolean("network"); ok && v {
		d.at(f.m["network"].val, join(f.path, "network"), "networking is not available yet")
	}
	if n, path, ok := f.get("env"); ok {
		if env, ok := d.env(n, path); ok {
			s.Env = s.Env.merged(env)
		}
	}
	if n, path, ok := f.get("allowed_commands"); ok {
		if cmds, ok := d.commandList(n, path); ok {
			s.AllowedCommands = cmds
		}
	}
}

// commandList decodes an allowlist: distinct command names or paths.
func (d *decoder) commandList(n *yamlNode, path string) ([]string, bool) {
	seen := map[string]bool{}
	return d.strList(n, path, func(n *yamlNode, path string) (string, bool) {
		s, ok := d.str(n, path)
		if !ok {
			return "", false
		}
		if err := checkCommand(s); err != nil {
			d.at(n, path, "%v", err)
			return "", false
		}
		if seen[s] {
			d.at(n, path, "duplicate command %q", s)
			return "", false
		}
		seen[s] = true
		return s, true
	})
}

// hostFile decodes the host path in field key: relative paths resolve
// against the spec's directory, and the file must exist now, so that a
// mistyped path is reported with its position rather than at boot.
func (d *decoder) hostFile(f *fields, key string) string {
	p, ok := f.str(key)
	if !ok {
		return ""
	}
	n, path := f.m[key].val, join(f.path, key)
	if p == "" {
		d.at(n, path, "empty path")
		return ""
	}
	abs := p
	if !filepath.IsAbs(p) {
		abs = filepath.Join(d.dir, p)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		d.at(n, path, "%s: %v", p, err)
		return ""
	}
	if !fi.Mode().IsRegular() {
		d.at(n, path, "%s: not a regular file", p)
		return ""
	}
	return abs
}
