package voidbox

import (
	"errors"
	"fmt"
	"slices"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/spec"
)

// Agent runtimes.
const (
	RuntimeVoidbox    = "voidbox"     // the built-in Go agent (default)
	RuntimeClaudeCode = "claude-code" // Anthropic's Claude Code CLI (needs `voidbox image build claude`)
)

// LLM is the model an agent box talks to. The provider key is read on the
// host (from APIKeyEnv, by default ANTHROPIC_API_KEY or OPENAI_API_KEY) by a
// gateway in the voidbox process; it never enters the guest.
type LLM struct {
	Provider  string // claude (or anthropic), openai, ollama, custom (an Anthropic-compatible BaseURL)
	Model     string // "" for the provider's default
	BaseURL   string // "" for the provider's default endpoint
	APIKeyEnv string // host variable holding the key; "" for the provider's usual one
}

// Skill is a capability declared for an agent box and materialised in its VM.
type Skill struct {
	kind        string // file, inline, mcp, cli
	name        string
	description string
	content     string // SKILL.md text (file, inline)
	hostPath    string // SKILL.md on the host (file): its scripts/ and references/ come along
	mcp         *MCPServer
}

// MCPServer is an MCP server started inside the guest (Command, stdio) or
// reached over streamable HTTP (URL, from inside the guest).
type MCPServer struct {
	Command string
	Args    []string
	Env     map[string]string
	URL     string
}

// SkillFile declares a SKILL.md file (YAML front matter with name and
// description). It is copied into the guest with its sibling scripts/ and
// references/ directories.
func SkillFile(path string) (Skill, error) {
	s, err := spec.ReadSkillFile(path)
	if err != nil {
		return Skill{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Skill{kind: "file", name: s.Name, description: s.Description, content: s.Content, hostPath: s.Path}, nil
}

// SkillInline declares a skill given as text.
func SkillInline(name, description, content string) Skill {
	return Skill{kind: "inline", name: name, description: description, content: content}
}

// SkillMCP declares an MCP server whose tools the agent may call.
func SkillMCP(name string, server MCPServer) Skill {
	return Skill{kind: "mcp", name: name, mcp: &server}
}

// SkillCLI declares a command-line tool that must be on the guest PATH; the
// stage fails at start if it is not.
func SkillCLI(name string) Skill { return Skill{kind: "cli", name: name} }

// Name is the skill's name.
func (s Skill) Name() string { return s.name }

// agentSpec holds an agent stage's LLM, skills and runtime.
type agentSpec struct {
	llm      LLM
	skills   []Skill
	maxTurns int
	runtime  string
}

func (b *Box) agentSpec() *agentSpec {
	if b.agent == nil {
		b.agent = &agentSpec{runtime: RuntimeVoidbox}
	}
	return b.agent
}

// LLM sets the model of an agent box (default: claude).
func (b *Box) LLM(l LLM) *Box { b.agentSpec().llm = l; return b }

// Skill adds skills to an agent box.
func (b *Box) Skill(s ...Skill) *Box { a := b.agentSpec(); a.skills = append(a.skills, s...); return b }

// MaxTurns caps the model responses of an agent box (default 20).
func (b *Box) MaxTurns(n int) *Box { b.agentSpec().maxTurns = n; return b }

// Runtime selects the agent runtime: RuntimeVoidbox (default) or RuntimeClaudeCode.
func (b *Box) Runtime(r string) *Box { b.agentSpec().runtime = r; return b }

// Default models when a box names none.
var defaultModels = map[llm.Kind]string{
	llm.KindAnthropic: "claude-sonnet-5-5",
	llm.KindOpenAI:    "gpt-4o",
	llm.KindOllama:    "qwen3-coder",
	llm.KindCustom:    "claude-sonnet-5-5",
}

// provider resolves the box's LLM into a gateway provider (without the key).
func (a *agentSpec) provider() (llm.Provider, error) {
	name := a.llm.Provider
	if name == "" {
		name = "claude"
	}
	kind, err := llm.ParseProviderKind(name)
	if err != nil {
		return llm.Provider{}, err
	}
	model := a.llm.Model
	if model == "" {
		model = defaultModels[kind]
	}
	return llm.Provider{Kind: kind, BaseURL: a.llm.BaseURL, APIKeyEnv: a.llm.APIKeyEnv, Model: model}, nil
}

func (a *agentSpec) validate(b *Box) []error {
	var errs []error
	if b.prompt == "" {
		errs = append(errs, errors.New("agent settings (LLM, skills, runtime) on a box without a prompt"))
	}
	if a.runtime != RuntimeVoidbox && a.runtime != RuntimeClaudeCode {
		errs = append(errs, fmt.Errorf("runtime %q: want %s or %s", a.runtime, RuntimeVoidbox, RuntimeClaudeCode))
	}
	if a.runtime == RuntimeClaudeCode && b.cfg.AllowedCommands != nil {
		// Its tools run inside its own process, which the guest cannot
		// look into: the allowlist would be silently ignored.
		errs = append(errs, errors.New("allowed commands: runtime claude-code cannot enforce them yet (use the voidbox runtime, or no allowlist)"))
	}
	if a.maxTurns < 0 {
		errs = append(errs, fmt.Errorf("max turns %d is negative", a.maxTurns))
	}
	p, err := a.provider()
	if err != nil {
		errs = append(errs, err)
	}
	// The whole point of the gateway: refuse a sandbox env that would copy
	// the provider key into the guest.
	keyVar := p.APIKeyEnv
	if keyVar == "" {
		keyVar = llm.DefaultKeyEnv(p.Kind)
	}
	if _, ok := b.cfg.Env[keyVar]; ok && keyVar != "" {
		errs = append(errs, fmt.Errorf("env sets %s, the provider key variable: keys stay on the host (the LLM gateway adds it)", keyVar))
	}
	seen := map[string]bool{}
	for _, s := range a.skills {
		if s.kind == "" || s.name == "" {
			errs = append(errs, errors.New("a skill without a kind or name (use SkillFile, SkillInline, SkillMCP, SkillCLI)"))
			continue
		}
		key := s.kind + ":" + s.name
		if s.kind == "inline" {
			key = "file:" + s.name
		}
		if seen[key] {
			errs = append(errs, fmt.Errorf("skill %q declared twice", s.name))
		}
		seen[key] = true
		if s.kind == "mcp" && (s.mcp == nil || (s.mcp.Command == "") == (s.mcp.URL == "")) {
			errs = append(errs, fmt.Errorf("mcp skill %q: give exactly one of a command or a URL", s.name))
		}
	}
	return slices.Clip(errs)
}
