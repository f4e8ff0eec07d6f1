package voidbox

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"time"
)

// DefaultOutputFile is where a stage leaves its output for the next stage.
const DefaultOutputFile = "/workspace/output.json"

// InputFile is where a stage finds the previous stage's output.
const InputFile = "/workspace/input.json"

// Box is one stage bound to its own micro-VM: a command (Exec) or an agent
// (Prompt), with its sandbox settings, timeout and retry policy. Build one
// with NewBox and the chainable setters, in the spirit of
//
//	voidbox.NewBox("build").Exec("make").Memory(1024).Timeout(5 * time.Minute)
type Box struct {
	name       string
	exec       []string
	prompt     string
	cfg        Config // sandbox settings; Timeout there is per command
	timeout    time.Duration
	retries    int
	backoff    time.Duration
	outputFile string
	agent      *agentSpec // set for agent stages
}

// NewBox starts a box definition.
func NewBox(name string) *Box { return &Box{name: name, backoff: time.Second} }

// Name is the box's (and its stage's) name.
func (b *Box) Name() string { return b.name }

// Exec makes the box a command stage running argv.
func (b *Box) Exec(argv ...string) *Box { b.exec = argv; return b }

// Prompt makes the box an agent stage with this task (built-in runtime and
// the claude provider unless LLM and Runtime say otherwise).
func (b *Box) Prompt(p string) *Box { b.prompt = p; b.agentSpec(); return b }

// Sandbox sets every sandbox setting at once (memory, CPUs, env, limits,
// allowed commands, per-command timeout).
func (b *Box) Sandbox(c Config) *Box { b.cfg = c; return b }

// Memory sets the VM's memory in MiB.
func (b *Box) Memory(mib int) *Box { b.cfg.MemoryMiB = mib; return b }

// CPUs sets the VM's vCPU count.
func (b *Box) CPUs(n int) *Box { b.cfg.CPUs = n; return b }

// Env sets an environment variable for the box's commands.
func (b *Box) Env(key, value string) *Box {
	if b.cfg.Env == nil {
		b.cfg.Env = map[string]string{}
	}
	b.cfg.Env[key] = value
	return b
}

// AllowCommands restricts the programs the box may start to names (see
// Config.AllowedCommands; repeated calls add names). With no names, no
// program may start at all.
func (b *Box) AllowCommands(names ...string) *Box {
	b.cfg.AllowedCommands = append(slices.Clip(b.cfg.AllowedCommands), names...)
	if b.cfg.AllowedCommands == nil {
		b.cfg.AllowedCommands = []string{} // an allowlist of nothing, not no allowlist
	}
	return b
}

// Disk sets the budget, in MiB, of the VM's writable filesystems (see
// Config.DiskMiB).
func (b *Box) Disk(mib int) *Box { b.cfg.DiskMiB = mib; return b }

// Timeout bounds each attempt of the stage, boot included (0: none).
func (b *Box) Timeout(d time.Duration) *Box { b.timeout = d; return b }

// Retries sets how many times a failed attempt is retried, and the first
// delay (doubling each retry, capped at 30s).
func (b *Box) Retries(n int, backoff time.Duration) *Box {
	b.retries, b.backoff = n, backoff
	return b
}

// OutputFile sets where the stage leaves its output (default
// /workspace/output.json; when the stage does not write it, its stdout is
// the output).
func (b *Box) OutputFile(p string) *Box { b.outputFile = p; return b }

func (b *Box) output() string {
	if b.outputFile == "" {
		return DefaultOutputFile
	}
	return b.outputFile
}

// validate reports every problem with the box definition.
func (b *Box) validate() error {
	var errs []error
	if b.name == "" {
		errs = append(errs, errors.New("box without a name"))
	}
	switch {
	case len(b.exec) == 0 && b.prompt == "":
		errs = append(errs, errors.New("neither a command (Exec) nor a prompt"))
	case len(b.exec) > 0 && b.prompt != "":
		errs = append(errs, errors.New("both a command (Exec) and a prompt"))
	case len(b.exec) > 0 && b.exec[0] == "":
		errs = append(errs, errors.New("empty command"))
	}
	if b.timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v is negative", b.timeout))
	}
	if b.retries < 0 || b.backoff < 0 {
		errs = append(errs, errors.New("negative retries or backoff"))
	}
	if p := b.output(); !path.IsAbs(p) {
		errs = append(errs, fmt.Errorf("output file %q is not an absolute guest path", p))
	}
	errs = append(errs, b.cfg.problems()...)
	if b.agent != nil {
		errs = append(errs, b.agent.validate(b)...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("box %q: %w: %w", b.name, ErrInvalid, err)
	}
	return nil
}
