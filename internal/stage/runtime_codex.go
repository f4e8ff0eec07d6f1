package stage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/agentconfig"
	"github.com/voidbox/voidbox/internal/codex"
	"github.com/voidbox/voidbox/internal/codex/execjson"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmm"
)

const (
	codexShareTag = "codex"
	// codexDefaultModel is the model of a codex stage that names none: a
	// Codex model the gateway has a price for.
	codexDefaultModel = "gpt-5-codex"
)

// codexRuntime runs OpenAI's Codex CLI in the guest from the codex flavour,
// a cache directory shared read-only with virtio-9p. The binary is static
// (musl): nothing else of the guest changes.
type codexRuntime struct {
	image *codex.Image
	// chatgpt: the gateway holds the host's ChatGPT login (KindChatGPT).
	chatgpt bool
}

func newCodexRuntime(cacheDir string, kind llm.Kind) (agentRuntime, error) {
	im, err := codex.Find(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sandbox.ErrMissingDependency, err) // says to run `voidbox image build codex`
	}
	return codexRuntime{image: im, chatgpt: kind == llm.KindChatGPT}, nil
}

// codexProblems are the settings a codex stage cannot honour.
func codexProblems(a *Agent, p policy.Sandbox) []error {
	var errs []error
	if strings.EqualFold(strings.TrimSpace(a.LLM.Provider), "codex") && a.runtime() != RuntimeCodex {
		return append(errs, fmt.Errorf("provider codex runs the Codex CLI: runtime %s cannot use it (use runtime codex, or provider openai)", a.runtime()))
	}
	if prov, err := a.Provider(); err == nil && prov.Kind != llm.KindOpenAI {
		errs = append(errs, fmt.Errorf("runtime codex speaks OpenAI's Responses API: it needs provider openai (or provider: codex), not %s", prov.Kind))
	}
	if p.AllowedCommands != nil {
		// Codex runs its commands itself: the allowlist would be ignored.
		errs = append(errs, errors.New("allowed commands: runtime codex cannot enforce them (use the voidbox runtime, or no allowlist)"))
	}
	for _, s := range a.Skills {
		if s.Kind == SkillMCP {
			errs = append(errs, fmt.Errorf("mcp skill %q: runtime codex does not take MCP servers yet", s.Name))
		}
	}
	return errs
}

func (c codexRuntime) shares() []vmm.Share {
	return []vmm.Share{{Tag: codexShareTag, HostPath: c.image.Dir, ReadOnly: true}}
}

func (codexRuntime) prepare(ctx context.Context, sb *sandbox.Sandbox) error {
	return sb.Mount(ctx, codexShareTag, codex.GuestDir, true)
}

// Codex reads skills from $CODEX_HOME/skills/<name>/SKILL.md.
func (codexRuntime) skillsDir() string    { return codex.GuestHome + "/.codex/skills" }
func (codexRuntime) skillsAnywhere() bool { return false }

func (c codexRuntime) command(ctx context.Context, sb *sandbox.Sandbox, cfg agentconfig.Config) ([]string, map[string]string, []byte, error) {
	cc := codex.Config{
		Prompt: cfg.Prompt + "\n\nYour working directory is /workspace. The previous stage's output, if any, is " +
			"/workspace/input.json. Write your final answer to " + cfg.OutputFile + " or give it as your last message.",
		Model:   cfg.Model,
		BaseURL: cfg.BaseURL,
		ChatGPT: c.chatgpt,
	}
	if err := cc.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", sandbox.ErrInvalid, err)
	}
	// The sandbox user's own file: Codex keeps its state beside it. What
	// the run does to it changes nothing outside the VM.
	if err := sb.WriteFile(ctx, cc.ConfigPath(), cc.ConfigTOML(), 0o600); err != nil {
		return nil, nil, nil, fmt.Errorf("writing codex's config: %w", err)
	}
	if cc.ChatGPT {
		if err := sb.WriteFile(ctx, cc.AuthPath(), codex.PlaceholderAuth(time.Now()), 0o600); err != nil {
			return nil, nil, nil, fmt.Errorf("writing codex's placeholder login: %w", err)
		}
	}
	argv, env := codex.Command(cc)
	if sb.Policy().Image != "" {
		// A static binary: it runs on any image, with the image's PATH and
		// its /bin/sh for the commands it runs.
		delete(env, "PATH")
	}
	return argv, env, cc.Stdin(), nil
}

func (codexRuntime) parser(emit func(event.Data)) lineParser {
	return codexParser{execjson.NewParser(emit, execjson.Options{Provider: string(llm.KindOpenAI)})}
}

// codexParser adapts execjson's parser to lineParser.
type codexParser struct{ p *execjson.Parser }

func (c codexParser) Line(line []byte) { _ = c.p.Line(line) }
func (c codexParser) Close()           { c.p.Close() }
