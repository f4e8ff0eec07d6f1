package voidbox

import (
	"fmt"
	"path"

	"github.com/voidbox/voidbox/internal/skillfetch"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/spec"
	"github.com/voidbox/voidbox/internal/stage"
)

// Agent runtimes.
const (
	RuntimeVoidbox    = stage.RuntimeVoidbox    // the built-in Go agent (default)
	RuntimeClaudeCode = stage.RuntimeClaudeCode // Anthropic's Claude Code CLI (needs `voidbox image build claude`)
	RuntimeCodex      = stage.RuntimeCodex      // OpenAI's Codex CLI (needs `voidbox image build codex`), provider openai
)

// LLM is the model an agent box talks to. The provider key is read on the
// host (from APIKeyEnv, by default ANTHROPIC_API_KEY or OPENAI_API_KEY) by a
// gateway in the voidbox process; it never enters the guest.
type LLM = stage.LLM

// LLMLimits is a box's model budget over all its attempts (LLM.Limits):
// MaxRequests, MaxInputTokens (the whole prompt), MaxOutputTokens,
// MaxCostUSD; zero is no limit. The host gateway refuses the request that
// finds one reached (a 429 in the provider's format) and the stage fails
// with the reason.
type LLMLimits = llm.Limits

// MCPServer is an MCP server started inside the guest (Command, stdio) or
// reached over streamable HTTP (URL, from inside the guest).
type MCPServer = stage.MCPServer

// Skill is a capability declared for an agent box and materialised in its
// VM. Make one with SkillFile, SkillInline, SkillMCP, SkillCLI or SkillOCI
// (which any box may have).
type Skill struct {
	s     stage.Skill
	image *stage.ImageSkill // SkillOCI
}

// SkillFile declares a SKILL.md file (YAML front matter with name and
// description). It is copied into the guest with its sibling scripts/ and
// references/ directories.
func SkillFile(path string) (Skill, error) {
	s, err := spec.ReadSkillFile(path)
	if err != nil {
		return Skill{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Skill{s: stage.Skill{Kind: stage.SkillFile, Name: s.Name, Description: s.Description, Content: s.Content, HostPath: s.Path}}, nil
}

// SkillInline declares a skill given as text.
func SkillInline(name, description, content string) Skill {
	return Skill{s: stage.Skill{Kind: stage.SkillInline, Name: name, Description: description, Content: content}}
}

// SkillMCP declares an MCP server whose tools the agent may call.
func SkillMCP(name string, server MCPServer) Skill {
	return Skill{s: stage.Skill{Kind: stage.SkillMCP, Name: name, MCP: &server}}
}

// SkillRemote declares a skill published in a repository,
// "OWNER/REPO/SKILL" (skills/SKILL/SKILL.md) or "OWNER/REPO" (SKILL.md at its
// root), optionally "@REVISION" (a tag or commit) to pin it. The host
// fetches it when the run starts (from $VOIDBOX_SKILLS_BASE_URL, GitHub's raw
// content by default, through the user's proxy settings), checks it like a
// SkillFile and caches it by content hash, so a later run works offline; the
// report and the skill.fetched event record its URL and hash.
func SkillRemote(ref string) (Skill, error) {
	r, err := skillfetch.ParseRef(ref)
	if err != nil {
		return Skill{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Skill{s: stage.Skill{Kind: stage.SkillRemote, Name: r.String(), Remote: r.String()}}, nil
}

// SkillCLI declares a command-line tool that must be on the guest PATH; the
// stage fails at start if it is not.
func SkillCLI(name string) Skill { return Skill{s: stage.Skill{Kind: stage.SkillCLI, Name: name}} }

// Name is the skill's name (an OCI skill's is its mount's last element).
func (s Skill) Name() string {
	if s.image != nil {
		return path.Base(s.image.Mount)
	}
	return s.s.Name
}

func (b *Box) agent() *stage.Agent {
	if b.b.Agent == nil {
		b.b.Agent = &stage.Agent{} // runtime "": voidbox, or codex for provider codex
	}
	return b.b.Agent
}

// LLM sets the model of an agent box (default: claude).
func (b *Box) LLM(l LLM) *Box { b.agent().LLM = l; return b }

// Skill adds skills to an agent box (OCI skills to any box).
func (b *Box) Skill(s ...Skill) *Box {
	for _, sk := range s {
		if sk.image != nil {
			b.b.Images = append(b.b.Images, *sk.image)
			continue
		}
		a := b.agent()
		a.Skills = append(a.Skills, sk.s)
	}
	return b
}

// MaxTurns caps the model responses of an agent box (default 20).
func (b *Box) MaxTurns(n int) *Box { b.agent().MaxTurns = n; return b }

// Interactive makes the agent box a session on the user's terminal
// instead of a task: Claude Code's interactive mode (RuntimeClaudeCode; the
// built-in agent has none) in the box's VM, set up as a task would be
// (skills, the LLM gateway, the input), its prompt (optional) the first
// message. Run it as the only box of a pipeline with RunOptions.Terminal;
// its output is its output file, if the session wrote one.
func (b *Box) Interactive() *Box { b.agent().Interactive = true; return b }

// Runtime selects the agent runtime: RuntimeVoidbox (default), RuntimeClaudeCode or RuntimeCodex.
func (b *Box) Runtime(r string) *Box { b.agent().Runtime = r; return b }

// StageDetail is what a stage's report carries about its VM and command
// (the Detail of a StageReport).
type StageDetail = stage.Detail

// AgentDetail is what an agent stage's report carries: turns, tool calls,
// tokens and cost as counted by the host gateway.
type AgentDetail = stage.AgentDetail

// ToolCallInfo is one tool call of an agent stage.
type ToolCallInfo = stage.ToolCallInfo
