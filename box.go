package voidbox

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/voidbox/voidbox/internal/stage"
)

// DefaultOutputFile is where a stage leaves its output for the next stage.
const DefaultOutputFile = stage.DefaultOutputFile

// InputFile is where a stage finds the previous stage's output.
const InputFile = stage.InputFile

// Box is one stage bound to its own micro-VM: a command (Exec) or an agent
// (Prompt), with its sandbox policy, timeout and retry policy. Build one
// with NewBox and the chainable setters, in the spirit of
//
//	voidbox.NewBox("build").Exec("make").Memory(1024).Timeout(5 * time.Minute)
type Box struct {
	b stage.Box
}

// NewBox starts a box definition.
func NewBox(name string) *Box { return &Box{b: stage.Box{Name: name, Backoff: time.Second}} }

// Name is the box's (and its stage's) name.
func (b *Box) Name() string { return b.b.Name }

// Exec makes the box a command stage running argv.
func (b *Box) Exec(argv ...string) *Box { b.b.Exec = argv; return b }

// Prompt makes the box an agent stage with this task (built-in runtime and
// the claude provider unless LLM and Runtime say otherwise).
func (b *Box) Prompt(p string) *Box { b.agent().Prompt = p; return b }

// Sandbox sets the box's whole policy at once (memory, CPUs, env, limits,
// allowed commands, per-command timeout, disk).
func (b *Box) Sandbox(p Policy) *Box { b.b.Policy = p.Clone(); return b }

// Image boots the box from this kernel and initramfs instead of the host's.
func (b *Box) Image(im Image) *Box { b.b.Kernel, b.b.Initramfs = im.Kernel, im.Initramfs; return b }

// Snapshot starts the box's VM from a snapshot instead of a boot (every
// attempt restores it afresh): a name in the host's snapshot store (voidbox
// snapshot create) or a snapshot directory. A snapshot of another kernel,
// image, QEMU, memory size, vCPU count or guest policy is refused with the
// differences (errors.Is(err, ErrInvalid)); a box with a network, mounts,
// an image, outputs or inputs cannot start from one.
func (b *Box) Snapshot(ref string) *Box { b.b.Policy.Snapshot = ref; return b }

// Memory sets the VM's memory in MiB.
func (b *Box) Memory(mib int) *Box { b.b.Policy.MemoryMiB = mib; return b }

// CPUs sets the VM's vCPU count.
func (b *Box) CPUs(n int) *Box { b.b.Policy.VCPUs = n; return b }

// Env sets an environment variable for the box's commands.
func (b *Box) Env(key, value string) *Box {
	if b.b.Policy.Env == nil {
		b.b.Policy.Env = map[string]string{}
	}
	b.b.Policy.Env[key] = value
	return b
}

// AllowCommands restricts the programs the box's commands may run to these
// names (see Policy.AllowedCommands: the guest kernel checks every program
// executed, children of an allowed sh included). Called with no names, it
// allows no command at all.
func (b *Box) AllowCommands(names ...string) *Box {
	p := &b.b.Policy
	p.AllowedCommands = append(slices.Clip(p.AllowedCommands), names...)
	if p.AllowedCommands == nil {
		p.AllowedCommands = []string{} // an allowlist of nothing, not no allowlist
	}
	return b
}

// Disk sets the budget of the guest's writable filesystems together, in
// MiB (see Policy.DiskMiB).
func (b *Box) Disk(mib int) *Box { b.b.Policy.DiskMiB = mib; return b }

// Timeout bounds each attempt of the stage, boot included (0: none).
func (b *Box) Timeout(d time.Duration) *Box { b.b.Timeout = d; return b }

// Retries sets how many times a failed attempt is retried, and the first
// delay (doubling each retry, capped at 30s).
func (b *Box) Retries(n int, backoff time.Duration) *Box {
	b.b.Retries, b.b.Backoff = n, backoff
	return b
}

// OutputFile sets where the stage leaves its output (default
// /workspace/output.json; when the stage does not write it, its stdout is
// the output).
func (b *Box) OutputFile(p string) *Box { b.b.OutputFile = p; return b }

// Service makes the box a long-running service (a server, a bot): it is
// ready when it writes its output file (whose content is its output), and
// its dependants start then; it keeps running, with its VM, until the run's
// other stages are done, and fails the run if it exits first. Its Timeout
// bounds the time to become ready (default 2 minutes), not its life.
func (b *Box) Service() *Box { b.b.Service = true; return b }

// ServicePorts declares the TCP ports a service (Service) listens on in
// its guest. The service is then also ready once every port answers, and
// each stage depending on it directly reaches them as NAME:PORT, its name
// resolving in their DNS (a stage with no network gets one that reaches
// only these). The ports are forwarded to 127.0.0.1 on the host for that,
// at ports the host picks; nothing else of the host becomes reachable.
func (b *Box) ServicePorts(ports ...uint16) *Box {
	b.b.ServicePorts = append(b.b.ServicePorts, ports...)
	return b
}

// validate reports every problem with the box definition, with ErrInvalid.
func (b *Box) validate() error {
	if err := errors.Join(b.b.Problems()...); err != nil {
		return fmt.Errorf("box %q: %w: %w", b.b.Name, ErrInvalid, err)
	}
	return nil
}

// staged is the box as a graph node with io; the definition is copied, so
// a box changed after Run started does not change the run.
func (b *Box) staged(io stage.IO) stage.Staged {
	def := b.b
	def.Policy = def.Policy.Clone()
	def.Images = slices.Clone(def.Images)
	def.Outputs, def.Inputs = slices.Clone(def.Outputs), slices.Clone(def.Inputs)
	if def.Agent != nil {
		a := *def.Agent
		a.Skills = slices.Clone(a.Skills)
		def.Agent = &a
	}
	return stage.Staged{Box: &def, IO: io}
}
