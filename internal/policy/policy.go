// Package policy is the one definition of a sandbox's policy: what one VM
// may use and do (memory, vCPUs, disk budget, time, environment, allowed
// commands, rlimits, output caps, the OCI root image, host mounts), with
// its bounds, defaults and validation. Specs, CLI flags, the Go API and the daemon produce it; the
// VMM and the guest consume it (the guest through wire.Policy). Problems
// name the field by its spec name (memory_mb, allowed_commands[2], …) so
// each producer can point at its own source: a spec's file:line:col, a
// flag's name.
//
// It depends on the standard library, internal/wire (the allowlist rule
// the guest applies) and internal/netpolicy (the network policy's types)
// only.
package policy

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/wire"
)

// Bounds and defaults.
const (
	DefaultMemoryMiB = 512
	// MinMemoryMiB is the smallest guest that boots Debian's kernel with
	// voidbox's initramfs and still runs a command (measured under TCG).
	MinMemoryMiB = 128
	MaxMemoryMiB = 1 << 20 // 1 TiB: far from overflowing a byte count
	DefaultVCPUs = 1
	MaxVCPUs     = 64
	// MinDiskMiB is the smallest disk budget; the largest is half of the
	// memory, which holds the disk too.
	MinDiskMiB = 16
	// MaxTimeout bounds every duration of a policy (and of a spec).
	MaxTimeout         = 7 * 24 * time.Hour
	DefaultOutputLimit = 16 << 20 // bytes kept per output stream of a command
	MaxOutputLimit     = 1 << 30
)

// Sandbox is the policy of one VM. The zero value is valid and means the
// defaults: 512 MiB, 1 vCPU, the default disk budget, no command timeout,
// no allowlist, the guest's default rlimits, 16 MiB of output per stream.
type Sandbox struct {
	// MemoryMiB is the guest RAM in MiB (1 MiB = 1<<20 bytes); 0: 512.
	MemoryMiB int
	// VCPUs is the number of virtual CPUs; 0: 1.
	VCPUs int
	// DiskMiB is the one budget shared by every RAM-backed filesystem the
	// sandbox user can write (/workspace, /tmp, /home/sandbox, /dev/shm): a
	// write past it fails with ENOSPC instead of exhausting the guest's
	// memory. 0 means half the memory the guest has free after boot (~200
	// MiB at 512). At least MinDiskMiB and at most half of MemoryMiB; the
	// guest also refuses a budget that would leave it less than 16 MiB of
	// memory, saying the largest that fits.
	DiskMiB int
	// Timeout is the default timeout of each command (0: none).
	Timeout time.Duration
	// Env is added to every command's environment.
	Env map[string]string
	// AllowedCommands is the command allowlist: program names (no paths),
	// found in the guest's system directories (wire.CommandDirs). nil means
	// no allowlist; an empty, non-nil list allows no command at all.
	//
	// Every program the sandbox user's processes execute is checked in the
	// guest kernel (seccomp user notification on execve), so allowing sh,
	// env, xargs or find does not allow what they start; busybox applets
	// count by their own names. Agent boxes also check every command a tool
	// runs, after shell expansion, for a clearer refusal.
	AllowedCommands []string
	// Limits bound every command (zero fields take the guest defaults).
	Limits Limits
	// OutputLimit caps the bytes of each output stream of a command that
	// are kept or forwarded (0: 16 MiB); the rest is dropped and counted.
	OutputLimit int64
	// Image is the OCI reference (tag or digest) of the guest's root file
	// system; "" boots voidbox's own initramfs. The image must be in the
	// image cache (voidbox image pull) when the VM boots; it is mounted
	// read-only with a writable layer in the disk budget above it.
	Image string
	// Mounts are host directories shared into the guest (at most
	// MaxMounts, none inside another).
	Mounts []Mount
	// AttachShell lets a person open a shell in the running VM with
	// `voidbox attach RUN/STAGE --shell` (as the sandbox user, under the
	// allowlist and rlimits like any command). Off by default, for agent
	// boxes too: the VM then serves only a read-only follow of the stage.
	AttachShell bool

	// Network is what the box may reach. The zero value (ModeNone) gives
	// the VM no network device at all; netpolicy.Public() is the seed's
	// `network: true` (public internet only); an allowlist allows only what
	// it names. Every flow and DNS query is decided on the host.
	Network netpolicy.Policy
	// Ports forward host ports into the guest (a server in the box); they
	// need a network.
	Ports []netpolicy.Forward
	// CACerts are PEM certificates the guest's TLS clients trust besides
	// Debian's bundle (appended to /etc/ssl/certs/ca-certificates.crt), at
	// most MaxCACertBytes.
	CACerts []byte

	// Snapshot names the snapshot the VM starts from instead of a boot: a
	// name in the host's snapshot store (voidbox snapshot create) or, with
	// a '/', a snapshot directory. The snapshot must have been taken of
	// the same kernel, initramfs, QEMU, memory, vCPUs and guest policy, or
	// the start is refused with the differences. A snapshot carries no NIC,
	// mounts or image, so a policy with any of them is refused.
	Snapshot string
}

// MaxCACertBytes bounds Sandbox.CACerts: they travel in the handshake.
const MaxCACertBytes = 32 << 10

// Limits are per-command resource limits enforced in the guest with rlimits.
type Limits struct {
	Processes  uint64 // RLIMIT_NPROC (default 1024)
	OpenFiles  uint64 // RLIMIT_NOFILE (default 4096)
	FileSize   uint64 // RLIMIT_FSIZE in bytes (default 1 GiB)
	CPUSeconds uint64 // RLIMIT_CPU (default none)
}

// WithDefaults returns s with zero fields set to their defaults.
func (s Sandbox) WithDefaults() Sandbox {
	if s.MemoryMiB == 0 {
		s.MemoryMiB = DefaultMemoryMiB
	}
	if s.VCPUs == 0 {
		s.VCPUs = DefaultVCPUs
	}
	if s.OutputLimit == 0 {
		s.OutputLimit = DefaultOutputLimit
	}
	return s
}

// Clone returns a copy of s that shares no map or slice with it.
func (s Sandbox) Clone() Sandbox {
	if s.Env != nil {
		env := make(map[string]string, len(s.Env))
		for k, v := range s.Env {
			env[k] = v
		}
		s.Env = env
	}
	if s.AllowedCommands != nil {
		s.AllowedCommands = slices.Clone(s.AllowedCommands)
	}
	s.Network = s.Network.Clone()
	s.Ports = slices.Clone(s.Ports)
	s.CACerts = slices.Clone(s.CACerts)
	s.Mounts = cloneMounts(s.Mounts)
	return s
}

// HasNetwork reports whether the VM gets a network device.
func (s Sandbox) HasNetwork() bool { return s.Network.Mode != netpolicy.ModeNone }

// Wire is the part of s the guest enforces, as the protocol carries it.
func (s Sandbox) Wire() wire.Policy {
	return wire.Policy{
		AllowedCommands: s.AllowedCommands, // nil and empty differ: keep which
		DiskBytes:       int64(s.DiskMiB) << 20,
		Limits: wire.Limits{
			Processes:   s.Limits.Processes,
			OpenFiles:   s.Limits.OpenFiles,
			FileSize:    s.Limits.FileSize,
			CPUSeconds:  s.Limits.CPUSeconds,
			OutputBytes: s.WithDefaults().OutputLimit,
		},
	}
}

// Problem is one thing wrong with a policy.
type Problem struct {
	// Field is the spec name of the field at fault: "memory_mb",
	// "allowed_commands[2]", "env.NAME", "limits.processes".
	Field string
	// Also names the other fields the problem involves ("disk_mb" is too
	// large for "memory_mb"): a producer that did not set Field may point
	// at one of these instead.
	Also    []string
	Message string
}

func (p Problem) Error() string { return p.Field + ": " + p.Message }

// Key is Field without an index or map key ("allowed_commands", "env").
func (p Problem) Key() string {
	k, _, _ := strings.Cut(p.Field, "[")
	k, _, _ = strings.Cut(k, ".")
	return k
}

// Problems is every problem of a policy; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap lets errors.As find each Problem.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// Checks of one field each, for producers that check a value as they read
// it (a spec field, a flag): the same rule Validate applies, on a value the
// user gave explicitly (so 0 is not "the default" here).

// CheckMemoryMiB checks memory_mb.
func CheckMemoryMiB(v int) error {
	if v < MinMemoryMiB || v > MaxMemoryMiB {
		return fmt.Errorf("%d MiB is outside %d..%d MiB", v, MinMemoryMiB, MaxMemoryMiB)
	}
	return nil
}

// CheckVCPUs checks vcpus.
func CheckVCPUs(v int) error {
	if v < 1 || v > MaxVCPUs {
		return fmt.Errorf("%d is outside 1..%d", v, MaxVCPUs)
	}
	return nil
}

// ErrDiskOverMemory marks a disk budget too large for the memory (errors.Is).
var ErrDiskOverMemory = errors.New("disk budget over half of the memory")

type diskOverMemory struct{ disk, memory int }

func (e diskOverMemory) Error() string {
	return fmt.Sprintf("%d MiB is more than half of the %d MiB of memory, which holds the disk too", e.disk, e.memory)
}

func (diskOverMemory) Is(target error) bool { return target == ErrDiskOverMemory }

// CheckDiskMiB checks disk_mb against memory_mb (0: the default memory).
func CheckDiskMiB(disk, memory int) error {
	if memory == 0 {
		memory = DefaultMemoryMiB
	}
	if disk < MinDiskMiB {
		return fmt.Errorf("%d MiB is below the %d MiB minimum", disk, MinDiskMiB)
	}
	if disk > memory/2 {
		return diskOverMemory{disk, memory}
	}
	return nil
}

// CheckTimeout checks a command timeout (or any duration of a policy).
func CheckTimeout(d time.Duration) error {
	if d < 0 || d > MaxTimeout {
		return fmt.Errorf("%v is outside 0..%v", d, MaxTimeout)
	}
	return nil
}

// CheckOutputLimit checks output_limit.
func CheckOutputLimit(n int64) error {
	if n < 1 || n > MaxOutputLimit {
		return fmt.Errorf("%d bytes is outside 1..%d", n, MaxOutputLimit)
	}
	return nil
}

// Validate reports every problem of s at once, as Problems, or nil. Zero
// fields mean their defaults and are valid.
func (s Sandbox) Validate() error {
	var ps Problems
	add := func(field string, err error, also ...string) {
		if err != nil {
			ps = append(ps, Problem{Field: field, Also: also, Message: err.Error()})
		}
	}
	if s.MemoryMiB != 0 {
		add("memory_mb", CheckMemoryMiB(s.MemoryMiB))
	}
	if s.VCPUs != 0 {
		add("vcpus", CheckVCPUs(s.VCPUs))
	}
	if s.DiskMiB != 0 {
		err := CheckDiskMiB(s.DiskMiB, s.MemoryMiB)
		if errors.Is(err, ErrDiskOverMemory) {
			add("disk_mb", err, "memory_mb")
		} else {
			add("disk_mb", err)
		}
	}
	add("timeout", CheckTimeout(s.Timeout))
	for _, k := range sortedKeys(s.Env) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			add("env."+k, fmt.Errorf("invalid variable name %q", k))
		}
		if strings.ContainsRune(s.Env[k], 0) {
			add("env."+k, errors.New("the value contains a NUL byte"))
		}
	}
	seen := map[string]bool{}
	for i, a := range s.AllowedCommands {
		field := fmt.Sprintf("allowed_commands[%d]", i)
		if err := wire.CheckCommandName(a); err != nil {
			add(field, err)
		} else if seen[a] {
			add(field, fmt.Errorf("duplicate command %q", a))
		}
		seen[a] = true
	}
	if s.OutputLimit != 0 {
		add("output_limit", CheckOutputLimit(s.OutputLimit))
	}
	ps = append(ps, s.networkProblems()...)
	s.storageProblems(add)
	add("attach_shell", CheckAttachShell(s.AttachShell, s.AllowedCommands), "allowed_commands")
	ps = append(ps, s.snapshotProblems()...)
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// AttachShellCommand is the shell `voidbox attach --shell` starts.
const AttachShellCommand = "sh"

// CheckAttachShell refuses an attach shell the allowlist would refuse
// anyway: the shell is an ordinary command of the sandbox user.
func CheckAttachShell(on bool, allowed []string) error {
	if on && allowed != nil && !slices.Contains(allowed, AttachShellCommand) {
		return fmt.Errorf("the attach shell is %s, which allowed_commands does not allow: add it or leave attach_shell off", AttachShellCommand)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AsProblems returns the problems in err (from Validate), or nil.
func AsProblems(err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return ps
	}
	return nil
}

// networkProblems checks the network policy, the port forwards and the
// CAs, naming each problem by its spec path (network.allow[2], ports[0]).
func (s Sandbox) networkProblems() Problems {
	var ps Problems
	var fe *netpolicy.FieldError
	for _, err := range unjoin(s.Network.Validate()) {
		if errors.As(err, &fe) {
			field := "network"
			if fe.Path != "network" {
				field += "." + fe.Path
			}
			msg := fe.Msg
			if fe.Value != "" {
				msg = fmt.Sprintf("%q: %s", fe.Value, fe.Msg)
			}
			ps = append(ps, Problem{Field: field, Message: msg})
		}
	}
	seen := map[netip.AddrPort]bool{}
	for i, f := range s.Ports {
		field := fmt.Sprintf("ports[%d]", i)
		if err := f.Check(); err != nil {
			ps = append(ps, Problem{Field: field, Message: err.Error()})
			continue
		}
		if f.Host.Port() != 0 && seen[f.Host] {
			ps = append(ps, Problem{Field: field, Message: fmt.Sprintf("host %s is forwarded twice", f.Host)})
		}
		seen[f.Host] = true
	}
	if len(s.Ports) > 0 && !s.HasNetwork() {
		ps = append(ps, Problem{Field: "ports", Also: []string{"network"}, Message: "port forwards need a network (network: true or an allowlist)"})
	}
	if len(s.CACerts) > 0 {
		if err := CheckCACerts(s.CACerts); err != nil {
			ps = append(ps, Problem{Field: "ca_certificates", Message: err.Error()})
		}
	}
	return ps
}

// CheckCACerts checks PEM data for Sandbox.CACerts: only CERTIFICATE
// blocks, each a parseable CA certificate, nothing else, within
// MaxCACertBytes.
func CheckCACerts(b []byte) error {
	if len(b) > MaxCACertBytes {
		return fmt.Errorf("%d bytes of certificates is over the %d byte limit", len(b), MaxCACertBytes)
	}
	n := 0
	for rest := b; len(strings.TrimSpace(string(rest))) > 0; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return errors.New("not PEM: want -----BEGIN CERTIFICATE----- blocks")
		}
		if blk.Type != "CERTIFICATE" {
			return fmt.Errorf("a %s block: want certificates only", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("certificate %d: %v", n+1, err)
		}
		if !c.IsCA {
			return fmt.Errorf("certificate %d (%s) is not a CA certificate", n+1, c.Subject.CommonName)
		}
		n++
	}
	if n == 0 {
		return errors.New("no certificate")
	}
	return nil
}

// unjoin splits an errors.Join result into its errors.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
