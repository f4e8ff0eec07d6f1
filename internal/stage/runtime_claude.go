package stage

import (
	"context"
	"encoding/json"
	"fmt"
	"path"

	"github.com/voidbox/voidbox/internal/agentconfig"
	"github.com/voidbox/voidbox/internal/claudecode"
	"github.com/voidbox/voidbox/internal/claudecode/streamjson"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmm"
)

const (
	claudeShareTag  = "claude-code"
	claudeMCPConfig = "/run/voidbox/agent/mcp.json"
)

// claudeRuntime runs Anthropic's Claude Code CLI in the guest from the
// claude-code flavour: a cache directory shared read-only with virtio-9p
// (its 400 MB binary would not fit an initramfs), plus the glibc it needs.
type claudeRuntime struct {
	image *claudecode.Image
}

func newClaudeRuntime(cacheDir string) (agentRuntime, error) {
	im, err := claudecode.FindImage(cacheDir, "")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sandbox.ErrMissingDependency, err) // says to run `voidbox image build claude`
	}
	return claudeRuntime{image: im}, nil
}

func (c claudeRuntime) shares() []vmm.Share {
	return []vmm.Share{{Tag: claudeShareTag, HostPath: c.image.Dir, ReadOnly: true}}
}

// prepare mounts the flavour and makes its glibc the guest's: the binaries
// have /lib64/ld-linux-x86-64.so.2 compiled in, and Claude Code re-executes
// itself, so running the loader explicitly would not do.
func (c claudeRuntime) prepare(ctx context.Context, sb *sandbox.Sandbox) error {
	if err := sb.Mount(ctx, claudeShareTag, claudecode.GuestDir, true); err != nil {
		return err
	}
	script := "set -e\n"
	for _, l := range c.image.GuestSymlinks() {
		script += fmt.Sprintf("mkdir -p %q\nln -sf %q %q\n", path.Dir(l.Link), l.Target, l.Link)
	}
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", script}, As: sandbox.AsRoot})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("linking the claude-code runtime: %s", res.Stderr)
	}
	return nil
}

func (claudeRuntime) skillsAnywhere() bool { return false }

func (claudeRuntime) skillsDir() string {
	dir, _ := claudecode.SkillDir(claudecode.GuestHome, "x")
	return path.Dir(dir)
}

func (c claudeRuntime) command(ctx context.Context, sb *sandbox.Sandbox, cfg agentconfig.Config) ([]string, map[string]string, []byte, error) {
	cc := claudecode.Config{
		Prompt:   cfg.Prompt,
		MaxTurns: cfg.MaxTurns,
		AppendSystemPrompt: "Your working directory is /workspace. The previous stage's output, if any, is " +
			"/workspace/input.json. Write your final answer to " + cfg.OutputFile + " or give it as your last message.",
	}
	argv, env, err := c.run(ctx, sb, cfg, cc)
	if err != nil {
		return nil, nil, nil, err
	}
	return argv, env, cc.Stdin(), nil
}

// session is Claude Code's interactive mode on a terminal, its first
// start's questions answered in the sandbox user's home.
func (c claudeRuntime) session(ctx context.Context, sb *sandbox.Sandbox, cfg agentconfig.Config) ([]string, map[string]string, error) {
	home, err := claudecode.HomeConfig(sessionDir, "")
	if err != nil {
		return nil, nil, err
	}
	if err := sb.WriteFile(ctx, claudecode.HomeConfigPath(""), home, 0o600); err != nil {
		return nil, nil, fmt.Errorf("writing claude-code's home config: %w", err)
	}
	return c.run(ctx, sb, cfg, claudecode.Config{
		Interactive: true,
		Prompt:      cfg.Prompt,
		AppendSystemPrompt: "Your working directory is /workspace, in a micro-VM of its own; the user is on the " +
			"terminal. Anything the session should hand back goes in " + cfg.OutputFile + ".",
	})
}

// run completes cc with what every claude-code run shares (model, the
// gateway's endpoint, MCP servers) and returns its argv and environment.
func (claudeRuntime) run(ctx context.Context, sb *sandbox.Sandbox, cfg agentconfig.Config, cc claudecode.Config) ([]string, map[string]string, error) {
	cc.Model, cc.BaseURL = cfg.Model, cfg.BaseURL
	// The gateway already failed or succeeded for real; claude's default
	// of 10 retries with backoff would only stretch a failure to minutes.
	cc.MaxRetries = 2
	if len(cfg.MCPServers) > 0 {
		b, err := json.Marshal(claudeMCPServers(cfg.MCPServers))
		if err != nil {
			return nil, nil, err
		}
		if err := sb.WriteRootFile(ctx, claudeMCPConfig, b, 0o644); err != nil {
			return nil, nil, err
		}
		cc.MCPConfig = claudeMCPConfig
	}
	if err := cc.Validate(); err != nil {
		return nil, nil, err
	}
	argv, env := claudecode.Command(cc)
	return argv, env, nil
}

// claudeMCPServers is Claude Code's --mcp-config format.
func claudeMCPServers(servers []agentconfig.MCPServer) map[string]any {
	m := map[string]any{}
	for _, s := range servers {
		if s.URL != "" {
			m[s.Name] = map[string]any{"type": "http", "url": s.URL}
			continue
		}
		args, env := s.Args, s.Env
		if args == nil {
			args = []string{}
		}
		if env == nil {
			env = map[string]string{}
		}
		m[s.Name] = map[string]any{"command": s.Command, "args": args, "env": env}
	}
	return map[string]any{"mcpServers": m}
}

func (claudeRuntime) parser(emit func(event.Data)) lineParser {
	return claudeParser{streamjson.NewParser(emit)}
}

// claudeParser adapts streamjson's parser to lineParser.
type claudeParser struct{ p *streamjson.Parser }

func (c claudeParser) Line(line []byte) { _ = c.p.Line(line) }
func (c claudeParser) Close()           { c.p.Close() }
