package stage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/voidbox/voidbox/internal/agentconfig"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/setup"
	"github.com/voidbox/voidbox/internal/vmm"
)

// agentRuntime is what differs between the built-in agent and Claude Code.
type agentRuntime interface {
	// shares are the host directories the VM needs (the runtime's files).
	shares() []vmm.Share
	// prepare readies the guest after boot (mounts, links).
	prepare(ctx context.Context, sb *sandbox.Sandbox) error
	// skillsDir is where the runtime looks for SKILL.md directories.
	skillsDir() string
	// skillsAnywhere says the runtime reads a skill at any guest path it is
	// given (the built-in agent's configuration names each SKILL.md).
	skillsAnywhere() bool
	// command returns the agent's argv, environment and stdin for cfg.
	command(ctx context.Context, sb *sandbox.Sandbox, cfg agentconfig.Config) (argv []string, env map[string]string, stdin []byte, err error)
	// parser reads the agent's stdout (untrusted), one line at a time, and
	// reports agent events through emit.
	parser(emit func(event.Data)) lineParser
}

// lineParser consumes an event stream line by line.
type lineParser interface {
	Line(line []byte)
	Close()
}

// runtimeFor is the runtime name with its files in cacheDir; kind is the
// gateway's provider (the codex runtime's mode follows it).
func runtimeFor(name, cacheDir string, kind llm.Kind) (agentRuntime, error) {
	switch name {
	case RuntimeVoidbox, "":
		return builtinRuntime{}, nil
	case RuntimeClaudeCode:
		return newClaudeRuntime(cacheDir)
	case RuntimeCodex:
		return newCodexRuntime(cacheDir, kind)
	}
	return nil, fmt.Errorf("%w: agent runtime %q", sandbox.ErrInvalid, name)
}

// builtinRuntime is the Go agent (cmd/voidbox-agent), added to the initramfs
// of agent stages and started as `voidbox-agent --config FILE`; its events
// are JSON lines on stdout.
type builtinRuntime struct{}

func (builtinRuntime) shares() []vmm.Share                             { return nil }
func (builtinRuntime) prepare(context.Context, *sandbox.Sandbox) error { return nil }
func (builtinRuntime) skillsDir() string                               { return guestSkillsDir }
func (builtinRuntime) skillsAnywhere() bool                            { return true }

func (builtinRuntime) command(ctx context.Context, sb *sandbox.Sandbox, cfg agentconfig.Config) ([]string, map[string]string, []byte, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	// Root-owned and read-only for the sandbox user: the agent reads its
	// configuration but the commands it runs cannot rewrite it.
	if err := sb.WriteRootFile(ctx, agentConfigPath, b, 0o644); err != nil {
		return nil, nil, nil, err
	}
	return []string{setup.AgentGuestPath, "--config", agentConfigPath}, map[string]string{}, nil, nil
}

func (builtinRuntime) parser(emit func(event.Data)) lineParser { return builtinParser{emit} }

// builtinParser decodes the built-in agent's JSON-lines events.
type builtinParser struct{ emit func(event.Data) }

func (p builtinParser) Line(line []byte) {
	if ev, err := event.Decode(line); err == nil {
		p.emit(ev.Data) // what does not parse is skipped: the stream is untrusted
	}
}

func (builtinParser) Close() {}
