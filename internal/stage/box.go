package stage

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/claudeauth"
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
	RuntimeCodex      = "codex"       // OpenAI's Codex CLI (needs `voidbox image build codex`), provider openai
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
	// Images are OCI skills, mounted read-only (command and agent stages).
	Images []ImageSkill
	// Outputs and Inputs are directories shared with other boxes of a
	// pipeline (host mounts the engine adds to Policy.Mounts).
	Outputs []Output
	Inputs  []Input
	// Service runs the stage as a service: ready (its dependants start)
	// when its output file appears in the guest, stopped with its VM when
	// the run's other stages are done; Timeout bounds the time to become
	// ready (see pipeline.Node.Service).
	Service bool
	// ServicePorts are the TCP ports a service listens on in its guest:
	// it is also ready once every one answers, and each stage depending on
	// it reaches them as NAME:PORT (its name resolving in their DNS),
	// nothing else of the service's VM or of the host (see services.go).
	ServicePorts []uint16
}

// Agent is what an agent stage adds: a prompt, a model, skills, a runtime.
type Agent struct {
	Prompt   string
	LLM      LLM
	Skills   []Skill
	MaxTurns int    // 0: the runtime's default (20)
	Runtime  string // RuntimeVoidbox ("" too) or RuntimeClaudeCode
	// Interactive runs the agent as a session on the user's terminal
	// (Options.Terminal) instead of a task: Claude Code's interactive
	// mode, Prompt (optional) its first message. The stage's output is its
	// output file if the session wrote one.
	Interactive bool
}

// LLM is the model an agent box talks to. The provider key is read on the
// host (from APIKeyEnv, by default ANTHROPIC_API_KEY or OPENAI_API_KEY) by a
// gateway in the voidbox process; it never enters the guest.
//
// Provider claude-personal uses the host user's Claude subscription login
// instead (Claude Code's ~/.claude/.credentials.json or
// CLAUDE_CODE_OAUTH_TOKEN, see internal/claudeauth), refreshed on the host;
// lm-studio is LM Studio's local server (OpenAI-compatible, no key).
type LLM struct {
	Provider  string // claude (or anthropic), claude-personal, openai, ollama, lm-studio, custom (an Anthropic-compatible BaseURL)
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
	SkillRemote SkillKind = "remote" // a SKILL.md fetched on the host when the run starts
)

// Skill is a capability declared for an agent box and materialised in its VM.
type Skill struct {
	Kind        SkillKind
	Name        string
	Description string
	Content     string // SKILL.md text (file, inline)
	HostPath    string // SKILL.md on the host (file): its scripts/ and references/ come along
	// GuestPath is a SKILL.md already in the guest (an OCI skill's, in its
	// image): runtimes that can read it there are pointed at it.
	GuestPath string
	MCP       *MCPServer
	// Remote is the reference of a SkillRemote (OWNER/REPO/SKILL[@REV]);
	// Source says where its Content came from once the run fetched it.
	Remote string
	Source *SkillSource
}

// SkillSource is where a remote skill's SKILL.md came from.
type SkillSource struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Cached bool   `json:"cached,omitempty"` // the network failed; the copy cached last time was used
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
	return pipeline.Node{ID: b.Name, Retries: b.Retries, Backoff: b.Backoff, Timeout: b.Timeout, Service: b.Service}
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
	errs = append(errs, b.storageProblems()...)
	errs = append(errs, b.servicePortProblems()...)
	if b.Policy.Snapshot != "" && (len(b.Outputs) > 0 || len(b.Inputs) > 0) {
		// Shared directories are devices a restored guest does not have.
		errs = append(errs, errors.New("outputs and inputs: a box started from a snapshot cannot have them (sandbox.snapshot)"))
	}
	if b.Agent != nil {
		errs = append(errs, b.Agent.problems(b.Policy)...)
		if b.Agent.Interactive && (b.Service || b.Retries > 0) {
			errs = append(errs, errors.New("interactive: a session is neither a service nor retried"))
		}
	}
	return errs
}

// Default models when a box names none.
var defaultModels = map[llm.Kind]string{
	llm.KindAnthropic: "claude-sonnet-5-5",
	llm.KindOpenAI:    "gpt-4o",
	llm.KindOllama:    "qwen3-coder",
	llm.KindCustom:    "claude-sonnet-5-5",
	// A subscription serves the same models as the API.
	llm.KindClaudePersonal: "claude-sonnet-5-5",
	// LM Studio has no default: the model is whichever the user loaded.
}

// Provider resolves the agent's LLM into a gateway provider (without the key).
func (a *Agent) Provider() (llm.Provider, error) {
	name := a.LLM.Provider
	if name == "" && a.runtime() == RuntimeCodex {
		name = "openai" // the only API Codex speaks through the gateway
	}
	if name == "" {
		name = "claude"
	}
	kind, err := llm.ParseProviderKind(name)
	if err != nil {
		return llm.Provider{}, err
	}
	model := a.LLM.Model
	if model == "" && a.runtime() == RuntimeCodex && kind == llm.KindOpenAI {
		model = codexDefaultModel
	}
	if model == "" {
		model = defaultModels[kind]
	}
	return llm.Provider{Kind: kind, BaseURL: a.LLM.BaseURL, APIKeyEnv: a.LLM.APIKeyEnv, Model: model}, nil
}

func (a *Agent) runtime() string {
	switch {
	case a.Runtime == "" && strings.EqualFold(strings.TrimSpace(a.LLM.Provider), "codex"):
		return RuntimeCodex // provider codex is the Codex CLI's
	case a.Runtime == "":
		return RuntimeVoidbox
	}
	return a.Runtime
}

func (a *Agent) problems(p policy.Sandbox) []error {
	var errs []error
	if a.Prompt == "" && !a.Interactive {
		errs = append(errs, errors.New("agent settings (LLM, skills, runtime) on a box without a prompt"))
	}
	rt := a.runtime()
	if a.Interactive && rt != RuntimeClaudeCode {
		// The built-in agent works a task to its end; it has no session
		// a terminal could drive.
		errs = append(errs, fmt.Errorf("interactive: runtime %s has no interactive session (use runtime %s)", rt, RuntimeClaudeCode))
	}
	if a.Interactive && a.MaxTurns > 0 {
		errs = append(errs, errors.New("max turns: an interactive session has no turn limit"))
	}
	if rt != RuntimeVoidbox && rt != RuntimeClaudeCode && rt != RuntimeCodex {
		errs = append(errs, fmt.Errorf("runtime %q: want %s, %s or %s", rt, RuntimeVoidbox, RuntimeClaudeCode, RuntimeCodex))
	}
	if rt == RuntimeCodex || strings.EqualFold(strings.TrimSpace(a.LLM.Provider), "codex") {
		errs = append(errs, codexProblems(a, p)...)
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
	if prov.Kind == llm.KindClaudePersonal {
		if _, ok := p.Env[claudeauth.TokenEnv]; ok {
			errs = append(errs, fmt.Errorf("env sets %s: the Claude login stays on the host (the LLM gateway adds it)", claudeauth.TokenEnv))
		}
		if a.LLM.APIKeyEnv != "" {
			errs = append(errs, fmt.Errorf("api key env %s: provider claude-personal uses the host's Claude login, not an API key", a.LLM.APIKeyEnv))
		}
	}
	if prov.Kind == llm.KindLMStudio && prov.Model == "" {
		errs = append(errs, errors.New("provider lm-studio needs a model: the name LM Studio shows for the model it has loaded"))
	}
	seen := map[string]bool{}
	for _, s := range a.Skills {
		if s.Kind == "" || s.Name == "" {
			errs = append(errs, errors.New("a skill without a kind or name (use SkillFile, SkillInline, SkillMCP, SkillCLI)"))
			continue
		}
		key := string(s.Kind) + ":" + s.Name
		if s.Kind == SkillInline || (s.Kind == SkillRemote && s.Source != nil) {
			key = "file:" + s.Name // SKILL.md skills share one namespace in the guest
		}
		if seen[key] {
			errs = append(errs, fmt.Errorf("skill %q declared twice", s.Name))
		}
		seen[key] = true
		if s.Kind == SkillRemote && s.Remote == "" {
			errs = append(errs, fmt.Errorf("remote skill %q without a reference", s.Name))
		}
		if s.Kind == SkillMCP && (s.MCP == nil || (s.MCP.Command == "") == (s.MCP.URL == "")) {
			errs = append(errs, fmt.Errorf("mcp skill %q: give exactly one of a command or a URL", s.Name))
		}
	}
	return slices.Clip(errs)
}
