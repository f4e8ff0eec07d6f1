package stage

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/policy"
)

// Guest locations every stage shares.
const (
	DefaultOutputFile = "/workspace/output.json" // where a stage leaves its output
	InputFile         = "/workspace/input.json"  // where a stage finds the previous output
)

// Agent runtimes.
const (
	RuntimeVoidbox    = "voidbox"     // the built-in Go agent (default)
	RuntimeClaudeCode = "claude-code" // Anthropic's Claude Code CLI (needs `voidbox image build claude`)
)

// Box is one stage's definition: a command (Exec) or an agent (Agent with
// a prompt), the policy of its VM, and its timeout and retries.
type Box struct {
	Name   string
	Exec   []string
	Policy policy.Sandbox
	// Kernel and Initramfs override the host's guest image for this box.
	Kernel, Initramfs string
	Timeout           time.Duration // each attempt, boot included (0: none)
	Retries           int
	Backoff           time.Duration // first retry delay, doubling (capped at 30s)
	OutputFile        string        // "" for DefaultOutputFile
	Agent             *Agent        // set for agent stages
}

// Agent is what an agent stage adds: a prompt, a model, skills, a runtime.
type Agent struct {
	Prompt   string
	LLM      LLM
	Skills   []Skill
	MaxTurns int    // 0: the runtime's default (20)
	Runtime  string // RuntimeVoidbox ("" too) or RuntimeClaudeCode
}

// LLM is the model an agent box talks to. The provider key is read on the
// host (from APIKeyEnv, by default ANTHROPIC_API_KEY or OPENAI_API_KEY) by a
// gateway in the voidbox process; it never enters the guest.
type LLM struct {
	Provider  string // claude (or anthropic), openai, ollama, custom (an Anthropic-compatible BaseURL)
	Model     string // "" for the provider's default
	BaseURL   string // "" for the provider's default endpoint
	APIKeyEnv string // host variable holding the key; "" for the provider's usual one
	// Limits caps the box's model use over all its attempts (zero: none),
	// enforced by the gateway; a stage that hits one fails with the reason.
	Limits llm.Limits
}

// SkillKind is how a skill is materialised in the guest.
type SkillKind string

// Skill kinds.
const (
	SkillFile   SkillKind = "file"   // a SKILL.md with its scripts/ and references/
	SkillInline SkillKind = "inline" // a SKILL.md given as text
	SkillMCP    SkillKind = "mcp"    // an MCP server in the guest (stdio) or reached by URL
	SkillCLI    SkillKind = "cli"    // a program that must be on the guest PATH
)

// Skill is a capability declared for an agent box and materialised in its VM.
type Skill struct {
	Kind        SkillKind
	Name        string
	Description string
	Content     string // SKILL.md text (file, inline)
	HostPath    string // SKILL.md on the host (file): its scripts/ and references/ come along
	MCP         *MCPServer
}

// MCPServer is an MCP server started inside the guest (Command, stdio) or
// reached over streamable HTTP (URL, from inside the guest).
type MCPServer struct {
	Command string
	Args    []string
	Env     map[string]string
	URL     string
}

// IO says how a stage receives its input and hands over its output.
type IO struct {
	InputFile  bool // input goes to InputFile (pipelines)
	Stdin      bool // input goes to the command's stdin (workflows)
	OutputFile bool // output is the output file if written, else stdout
}

// Staged is a box as one node of a run's graph.
type Staged struct {
	Box *Box
	IO  IO
}

// Node is the graph node of a box: ID, retries, timeout.
func (b *Box) Node() pipeline.Node {
	return pipeline.Node{ID: b.Name, Retries: b.Retries, Backoff: b.Backoff, Timeout: b.Timeout}
}

// Output is where the stage leaves its output.
func (b *Box) Output() string {
	if b.OutputFile == "" {
		return DefaultOutputFile
	}
	return b.OutputFile
}

// Problems lists every problem with the box definition.
func (b *Box) Problems() []error {
	var errs []error
	if b.Name == "" {
		errs = append(errs, errors.New("box without a name"))
	}
	switch {
	case len(b.Exec) == 0 && b.Agent == nil:
		errs = append(errs, errors.New("neither a command (Exec) nor a prompt"))
	case len(b.Exec) > 0 && b.Agent != nil:
		errs = append(errs, errors.New("both a command (Exec) and a prompt"))
	case len(b.Exec) > 0 && b.Exec[0] == "":
		errs = append(errs, errors.New("empty command"))
	}
	if b.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v is negative", b.Timeout))
	}
	if b.Retries < 0 || b.Backoff < 0 {
		errs = append(errs, errors.New("negative retries or backoff"))
	}
	if p := b.Output(); !path.IsAbs(p) {
		errs = append(errs, fmt.Errorf("output file %q is not an absolute guest path", p))
	}
	if err := b.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if b.Agent != nil {
		errs = append(errs, b.Agent.problems(b.Policy)...)
	}
	return errs
}

// Default models when a box names none.
var defaultModels = map[llm.Kind]string{
	llm.KindAnthropic: "claude-sonnet-5-5",
	llm.KindOpenAI:    "gpt-4o",
	llm.KindOllama:    "qwen3-coder",
	llm.KindCustom:    "claude-sonnet-5-5",
}

// Provider resolves the agent's LLM into a gateway provider (without the key).
func (a *Agent) Provider() (llm.Provider, error) {
	name := a.LLM.Provider
	if name == "" {
		name = "claude"
	}
	kind, err := llm.ParseProviderKind(name)
	if err != nil {
		return llm.Provider{}, err
	}
	model := a.LLM.Model
	if model == "" {
		model = defaultModels[kind]
	}
	return llm.Provider{Kind: kind, BaseURL: a.LLM.BaseURL, APIKeyEnv: a.LLM.APIKeyEnv, Model: model}, nil
}

func (a *Agent) runtime() string {
	if a.Runtime == "" {
		return RuntimeVoidbox
	}
	return a.Runtime
}

func (a *Agent) problems(p policy.Sandbox) []error {
	var errs []error
	if a.Prompt == "" {
		errs = append(errs, errors.New("agent settings (LLM, skills, runtime) on a box without a prompt"))
	}
	rt := a.runtime()
	if rt != RuntimeVoidbox && rt != RuntimeClaudeCode {
		errs = append(errs, fmt.Errorf("runtime %q: want %s or %s", rt, RuntimeVoidbox, RuntimeClaudeCode))
	}
	if rt == RuntimeClaudeCode && p.AllowedCommands != nil {
		// Its tools run inside its own process, which the guest cannot
		// look into: the allowlist would be silently ignored.
		errs = append(errs, errors.New("allowed commands: runtime claude-code cannot enforce them yet (use the voidbox runtime, or no allowlist)"))
	}
	if a.MaxTurns < 0 {
		errs = append(errs, fmt.Errorf("max turns %d is negative", a.MaxTurns))
	}
	prov, err := a.Provider()
	if err != nil {
		errs = append(errs, err)
	}
	if err := a.LLM.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("llm limits: %w", err))
	}
	// The whole point of the gateway: refuse a sandbox env that would copy
	// the provider key into the guest.
	keyVar := prov.APIKeyEnv
	if keyVar == "" {
		keyVar = llm.DefaultKeyEnv(prov.Kind)
	}
	if _, ok := p.Env[keyVar]; ok && keyVar != "" {
		errs = append(errs, fmt.Errorf("env sets %s, the provider key variable: keys stay on the host (the LLM gateway adds it)", keyVar))
	}
	seen := map[string]bool{}
	for _, s := range a.Skills {
		if s.Kind == "" || s.Name == "" {
			errs = append(errs, errors.New("a skill without a kind or name (use SkillFile, SkillInline, SkillMCP, SkillCLI)"))
			continue
		}
		key := string(s.Kind) + ":" + s.Name
		if s.Kind == SkillInline {
			key = "file:" + s.Name
		}
		if seen[key] {
			errs = append(errs, fmt.Errorf("skill %q declared twice", s.Name))
		}
		seen[key] = true
		if s.Kind == SkillMCP && (s.MCP == nil || (s.MCP.Command == "") == (s.MCP.URL == "")) {
			errs = append(errs, fmt.Errorf("mcp skill %q: give exactly one of a command or a URL", s.Name))
		}
	}
	return slices.Clip(errs)
}
