package voidbox

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/voidbox/voidbox/internal/agent"
	"github.com/voidbox/voidbox/internal/agent/event"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/wire"
)

// agentRuntime is what differs between the built-in agent and Claude Code.
type agentRuntime interface {
	// shares are the host directories the VM needs (the runtime's files).
	shares() []vmm.Share
	// prepare readies the guest after boot (mounts, links).
	prepare(ctx context.Context, sb *Sandbox) error
	// skillsDir is where the runtime looks for SKILL.md directories.
	skillsDir() string
	// command returns the agent's argv and environment for cfg.
	command(ctx context.Context, sb *Sandbox, cfg agent.Config) ([]string, map[string]string, error)
	// events parses one line of the agent's stdout (untrusted) into events.
	events(line []byte) []any
}

func runtimeFor(name, cacheDir string) (agentRuntime, error) {
	switch name {
	case RuntimeVoidbox, "":
		return builtinRuntime{}, nil
	case RuntimeClaudeCode:
		return newClaudeRuntime(cacheDir)
	}
	return nil, fmt.Errorf("%w: agent runtime %q", ErrInvalid, name)
}

// builtinRuntime is the Go agent shipped in the guest agent binary, started
// as `/init agent --config FILE`; its events are JSON lines on stdout.
type builtinRuntime struct{}

func (builtinRuntime) shares() []vmm.Share                     { return nil }
func (builtinRuntime) prepare(context.Context, *Sandbox) error { return nil }
func (builtinRuntime) skillsDir() string                       { return guestSkillsDir }

func (builtinRuntime) command(ctx context.Context, sb *Sandbox, cfg agent.Config) ([]string, map[string]string, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	// Root-owned and read-only for the sandbox user: the agent reads its
	// configuration but the commands it runs cannot rewrite it.
	if err := sb.writeRootFile(ctx, agentConfigPath, b, 0o644); err != nil {
		return nil, nil, err
	}
	return []string{"/init", "agent", "--config", agentConfigPath}, map[string]string{}, nil
}

func (builtinRuntime) events(line []byte) []any {
	ev, err := event.Decode(line)
	if err != nil {
		return nil // not an event: the stream is untrusted, skip what does not parse
	}
	return []any{ev}
}

// writeRootFile writes a root-owned file (provisioning).
func (s *Sandbox) writeRootFile(ctx context.Context, path string, data []byte, perm uint32) error {
	return s.wrap("write "+path, s.client.WriteFile(ctx, wire.WriteFile{Path: path, Mode: perm, Parents: true, Root: true}, bytesReader(data)))
}
