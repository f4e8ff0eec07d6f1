package spec

import (
	"math"

	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/policy"

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

// MaxTimeout bounds every timeout in a spec.
const MaxTimeout = policy.MaxTimeout

// Sandbox is the micro-VM policy a box or step runs under. The top-level
// Spec.Sandbox holds what the spec's sandbox block says with defaults applied;
// every Box and Step carries its effective copy, with its own override merged.
type Sandbox struct {
	Mode SandboxMode
	// Kernel and Initramfs are absolute host paths of files that existed at
	// parse time, or "" for the built-in guest image.
	Kernel    string
	Initramfs string
	// Env is the declared environment; values marked FromHost are read on
	// the host when the spec runs, into Policy.Env.
	Env Env
	// Policy is the box's sandbox policy (memory_mb, vcpus, disk_mb,
	// timeout, allowed_commands, network, ports, ca_certificates),
	// validated by internal/policy. Its Env is empty until the spec runs.
	Policy policy.Sandbox
	// Pos is where the sandbox block (or the box's override) is; zero when
	// the spec has none.
	Pos Pos
}

func defaultSandbox() Sandbox {
	return Sandbox{Mode: SandboxAuto, Policy: policy.Sandbox{MemoryMiB: policy.DefaultMemoryMiB, VCPUs: policy.DefaultVCPUs}}
}

// Allows reports whether the allowlist lets cmd run, as far as the spec can
// tell: the last element of cmd is listed ("sh" allows "sh" and "/bin/sh")
// and, for a path, it is in one of the directories the guest trusts. The
// guest checks again, on the program it really finds.
func (s Sandbox) Allows(cmd string) bool {
	allowed := s.Policy.AllowedCommands
	if allowed == nil {
		return true
	}
	if wire.CheckCommandAllowed(allowed, cmd) != nil {
		return false
	}
	return !strings.Contains(cmd, "/") || slices.Contains(wire.CommandDirs(), path.Dir(cmd))
}

// clone returns a copy that shares no maps or slices with s.
func (s Sandbox) clone() Sandbox {
	s.Env = s.Env.merged(nil)
	s.Policy = s.Policy.Clone()
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
			// The seed's mock mode runs no VM; voidbox always does (under TCG
			// where there is no usable KVM), so the spec still means what it
			// says, only isolated for real.
			s.Mode = SandboxAuto
			d.note(f.m["mode"].val, join(path, "mode"), "mock: voidbox runs a real micro-VM instead (software emulation where the host has no usable KVM)")
		default:
			d.at(f.m["mode"].val, join(path, "mode"), "unknown mode %q (valid: auto, local)", v)
		}
	}
	d.guestImage(f, path)
	s.Kernel = d.hostFile(f, "kernel")
	s.Initramfs = d.hostFile(f, "initramfs")
	if v, ok := f.duration("timeout", time.Nanosecond, MaxTimeout); ok {
		s.Policy.Timeout = v
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

// sandboxLimits decodes the fields a box may override; internal/policy
// checks each value.
func (d *decoder) sandboxLimits(f *fields, s *Sandbox) {
	p := &s.Policy
	d.checked(f, "memory_mb", &p.MemoryMiB, policy.CheckMemoryMiB)
	d.checked(f, "vcpus", &p.VCPUs, policy.CheckVCPUs)
	d.network(f, p)
	d.ports(f, p)
	d.caCertificates(f, p)
	if len(p.Ports) > 0 && !p.HasNetwork() {
		// Checked on the merged result, at whichever of the two this block sets.
		for _, key := range []string{"ports", "network"} {
			if f.has(key) {
				d.at(f.m[key].val, join(f.path, key), "port forwards need a network (network: true or an allowlist)")
				break
			}
		}
	}
	if n, path, ok := f.get("env"); ok {
		if env, ok := d.env(n, path); ok {
			s.Env = s.Env.merged(env)
		}
	}
	if n, path, ok := f.get("allowed_commands"); ok {
		if cmds, ok := d.commandList(n, path); ok {
			p.AllowedCommands = cmds
		}
	}
	d.image(f, s)
	d.mounts(f, s)
	d.snapshot(f, s)
	d.snapshotConflicts(f, s)
	if v, ok := f.boolean("attach_shell"); ok {
		p.AttachShell = v
	}
	// Checked on the merged result too: a box may narrow the allowlist
	// under an attach_shell it inherits.
	if f.has("attach_shell") || f.has("allowed_commands") {
		if err := policy.CheckAttachShell(p.AttachShell, p.AllowedCommands); err != nil {
			key := "attach_shell"
			if !f.has(key) {
				key = "allowed_commands"
			}
			d.at(f.m[key].val, join(f.path, key), "%v", err)
		}
	}
	diskOK := !f.has("disk_mb")
	if v, ok := f.integer("disk_mb", math.MinInt32, math.MaxInt32); ok {
		p.DiskMiB, diskOK = v, true
	}
	// Checked on the merged result: a box may lower memory_mb under a
	// disk_mb it inherits. Reported at disk_mb if this block sets it, else
	// at memory_mb; a block that sets neither was checked where they were.
	if diskOK && (f.has("disk_mb") || (p.DiskMiB != 0 && f.has("memory_mb"))) {
		if err := policy.CheckDiskMiB(p.DiskMiB, p.MemoryMiB); err != nil {
			for _, key := range []string{"disk_mb", "memory_mb"} {
				if f.has(key) {
					d.at(f.m[key].val, join(f.path, key), "%v", err)
					break
				}
			}
		}
	}
}

// checked decodes the integer key into *dst when check accepts it.
func (d *decoder) checked(f *fields, key string, dst *int, check func(int) error) {
	v, ok := f.integer(key, math.MinInt32, math.MaxInt32)
	if !ok {
		return
	}
	if err := check(v); err != nil {
		d.at(f.m[key].val, join(f.path, key), "%v", err)
		return
	}
	*dst = v
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
	if d.noHost {
		d.at(n, path, "%s: %s", p, noHostFiles)
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
