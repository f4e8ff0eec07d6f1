package stage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

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

// prepare mounts the flavour and makes a glibc serve it: the binaries
// have /lib64/ld-linux-x86-64.so.2 compiled in, and Claude Code re-executes
// itself, so running the loader explicitly would not do. On voidbox's own
// root (busybox, no glibc) the flavour's glibc is linked in; on an OCI
// image, see prepareImage.
func (c claudeRuntime) prepare(ctx context.Context, sb *sandbox.Sandbox) error {
	if err := sb.Mount(ctx, claudeShareTag, claudecode.GuestDir, true); err != nil {
		return err
	}
	if sb.Policy().Image != "" {
		return c.prepareImage(ctx, sb)
	}
	return c.link(ctx, sb, c.image.GuestSymlinks())
}

// link creates links as root with the root's sh.
func (c claudeRuntime) link(ctx context.Context, sb *sandbox.Sandbox, links []claudecode.Symlink) error {
	script := "set -e\n"
	for _, l := range links {
		script += fmt.Sprintf("mkdir -p %q\nln -sf %q %q\n", path.Dir(l.Link), l.Target, l.Link)
	}
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", script}, As: sandbox.AsRoot})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("linking the claude-code runtime: %s", firstLine(res.Stderr, res.Error))
	}
	return nil
}

// prepareImage readies an OCI image root without shadowing any of its
// files, so the commands Claude Code runs there see the image as it is:
//   - an image with glibc (its loader at the binaries' PT_INTERP) serves
//     claude-code itself, checked by its loader resolving every library and
//     symbol version the binary needs (`ld.so --list`);
//   - an image without one (musl, static, busybox) gets the flavour's
//     loader and libraries linked in where nothing of the image lies.
//
// The Bash tool's shell is the image's bash when it has one (claudeShell).
func (c claudeRuntime) prepareImage(ctx context.Context, sb *sandbox.Sandbox) error {
	bin := c.image.GuestPath(c.image.Binary)
	ok, why, err := c.loads(ctx, sb, bin)
	if err != nil {
		return err
	}
	if why != "" {
		return fmt.Errorf("%w: runtime claude-code cannot run on image %s: its glibc does not load %s: %s",
			sandbox.ErrInvalid, sb.Policy().Image, path.Base(bin), why)
	}
	if !ok {
		var links []claudecode.Symlink
		for _, l := range c.image.GuestSymlinks() {
			if _, exists, err := sb.Stat(ctx, l.Link); err != nil {
				return err
			} else if exists {
				return fmt.Errorf("%w: runtime claude-code cannot run on image %s: it has %s but no glibc loader at %s",
					sandbox.ErrInvalid, sb.Policy().Image, l.Link, c.image.Interp)
			}
			links = append(links, l)
		}
		if err := c.link(ctx, sb, links); err != nil {
			return fmt.Errorf("%w (image %s has no glibc: the flavour's is linked in with the image's sh)", err, sb.Policy().Image)
		}
		return nil
	}
	if shell, err := claudeShell(ctx, sb); err != nil || shell != "" {
		return err
	}
	// No bash in the image: the flavour's, if the image's glibc loads it.
	if _, why, err := c.loads(ctx, sb, c.image.GuestPath(c.image.Shell)); err != nil {
		return err
	} else if why != "" {
		return fmt.Errorf("%w: runtime claude-code cannot run on image %s: it has no bash for the Bash tool, and its glibc does not load the flavour's: %s",
			sandbox.ErrInvalid, sb.Policy().Image, why)
	}
	return nil
}

// loads asks the image's glibc loader whether it loads bin: ok when it
// does; why says what it lacks when it runs and refuses; neither when the
// image has no loader there.
func (c claudeRuntime) loads(ctx context.Context, sb *sandbox.Sandbox, bin string) (ok bool, why string, err error) {
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{c.image.Interp, "--list", bin}, As: sandbox.AsRoot, Timeout: time.Minute})
	if err != nil {
		return false, "", err
	}
	switch {
	case res.ExitCode == 127 || res.ExitCode == 126:
		return false, "", nil
	case res.ExitCode != 0 || bytes.Contains(res.Stdout, []byte("not found")):
		return false, firstLine(append(res.Stderr, res.Stdout...), res.Error), nil
	}
	return true, "", nil
}

// claudeShell is the image's bash, or "" when the box is not on an image
// or the image has none (the flavour's bash then).
func claudeShell(ctx context.Context, sb *sandbox.Sandbox) (string, error) {
	if sb.Policy().Image == "" {
		return "", nil
	}
	for _, p := range []string{"/bin/bash", "/usr/bin/bash"} {
		fi, ok, err := sb.Stat(ctx, p)
		if err != nil {
			return "", err
		}
		if ok && fi.Mode.IsRegular() && fi.Mode&0o001 != 0 {
			return p, nil
		}
	}
	return "", nil
}

// firstLine is the first non-empty line of out, else alt.
func firstLine(out []byte, alt string) string {
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return alt
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
	shell, err := claudeShell(ctx, sb)
	if err != nil {
		return nil, nil, err
	}
	cc.Shell = shell
	argv, env := claudecode.Command(cc)
	// The sandbox's PATH, as for any command: the image's, with the bin
	// directories of OCI skills appended.
	delete(env, "PATH")
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
