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

	"github.com/voidbox/voidbox/internal/wire"
)

// SandboxMode says how the VM backend is chosen.
type SandboxMode string

// Both modes mean what voidbox always does, boot a local QEMU micro-VM, so
// either is accepted (seed specs say mode: auto) and neither changes
// anything. Unlike the seed's auto, voidbox never falls back to running
// without a VM: a VM that cannot boot is an error.
const (
	// SandboxAuto: a local micro-VM, accelerator chosen for the host.
	SandboxAuto SandboxMode = "auto"
	// SandboxLocal: the local QEMU backend, voidbox's only one.
	SandboxLocal SandboxMode = "local"
)

// Sandbox limits and defaults.
const (
	DefaultMemoryMiB = 512
	MinMemoryMiB     = 64
	MaxMemoryMiB     = 1 << 20 // 1 TiB: keeps MemoryBytes far from overflow
	DefaultVCPUs     = 1
	MaxVCPUs         = 16
	// MinDiskMiB is the smallest disk_mb; the largest is half of memory_mb.
	MinDiskMiB = 16
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
	// DiskMiB is the one budget of every RAM-backed filesystem the sandbox
	// user can write (/workspace, /tmp, /home/sandbox, /dev/shm); 0 means
	// the runtime's default (half the memory free after boot).
	DiskMiB int
	// AllowedCommands is the command allowlist: program names, checked by
	// the guest (wire.AllowedProgram). nil means no allowlist; an empty,
	// non-nil list allows no command at all. See Allows.
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

// Allows reports whether the allowlist lets cmd run, as far as the spec can
// tell: the last element of cmd is listed ("sh" allows "sh" and "/bin/sh")
// and, for a path, it is in one of the directories the guest trusts. The
// guest checks again, on the program it really finds.
func (s Sandbox) Allows(cmd string) bool {
	if s.AllowedCommands == nil {
		return true
	}
	if wire.CheckCommandAllowed(s.AllowedCommands, cmd) != nil {
		return false
	}
	return !strings.Contains(cmd, "/") || slices.Contains(wire.CommandDirs(), path.Dir(cmd))
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
	if v, ok := f.integer("disk_mb", MinDiskMiB, MaxMemoryMiB/2); ok {
		s.DiskMiB = v
	}
	// Checked on the merged result: a box may lower memory_mb under a
	// disk_mb it inherits.
	if s.DiskMiB > s.MemoryMiB/2 {
		key := "disk_mb"
		if !f.has(key) {
			key = "memory_mb"
		}
		if f.has(key) {
			d.at(f.m[key].val, join(f.path, key), "disk_mb %d is more than half of memory_mb %d: the guest's memory holds the disk too",
				s.DiskMiB, s.MemoryMiB)
		}
	}
}

// commandList decodes an allowlist: distinct program names (the guest's
// rule, wire.CheckCommandName: no paths).
func (d *decoder) commandList(n *yamlNode, path string) ([]string, bool) {
	seen := map[string]bool{}
	return d.strList(n, path, func(n *yamlNode, path string) (string, bool) {
		s, ok := d.str(n, path)
		if !ok {
			return "", false
		}
		if err := wire.CheckCommandName(s); err != nil {
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
