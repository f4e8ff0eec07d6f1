package spec

import (
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
	"go.yaml.in/yaml/v3"
)

// Runtime is the agent loop that runs a prompt box.
type Runtime string

const (
	// RuntimeVoidbox is voidbox's built-in agent loop.
	RuntimeVoidbox Runtime = "voidbox"
	// RuntimeClaudeCode runs the claude-code CLI in the guest.
	RuntimeClaudeCode Runtime = "claude-code"
	// RuntimeCodex runs OpenAI's Codex CLI in the guest (provider openai).
	RuntimeCodex Runtime = "codex"
)

// Box defaults and limits.
const (
	DefaultOutputFile   = "/workspace/output.json"
	DefaultMaxTurns     = 20
	MaxMaxTurns         = 10_000
	DefaultRetryBackoff = time.Second
	MaxRetries          = 100
	MaxRetryBackoff     = time.Hour
)

// Box is one stage bound to one micro-VM: an agent driven by Prompt, or a
// command (Exec). A kind: agent spec is a single box named after the spec; a
// pipeline's boxes come from pipeline.boxes. Every field holds its effective
// value: defaults applied, the box's llm and sandbox overrides merged over
// the top-level blocks.
type Box struct {
	Name string
	// Exactly one of Prompt and Exec is set. Exec is an argv, run without a
	// shell; its first element is allowed by Sandbox.AllowedCommands.
	Prompt string
	Exec   []string
	Skills []Skill
	LLM    LLM
	// Sandbox is the effective sandbox policy for this box's VM.
	Sandbox Sandbox
	// Timeout bounds one attempt of the whole stage; zero means none was
	// given (the runtime's default applies).
	Timeout time.Duration
	// OutputFile is the guest file whose content is the stage's output.
	OutputFile string
	// MaxTurns bounds the agent loop (prompt boxes only).
	MaxTurns int
	// Runtime is the agent loop (prompt boxes only).
	Runtime Runtime
	// Service is mode: service: a long-running stage, ready (its dependants
	// start) when OutputFile appears in the guest, stopped when the run's
	// other stages are done; Timeout bounds the time to become ready.
	Service bool
	// ServicePorts are a service's TCP ports (see Step.ServicePorts).
	ServicePorts []uint16
	// Interactive is agent.mode: interactive (kind: agent only): the agent
	// is a session on the user's terminal (voidbox shell --file), Prompt
	// (optional) its first message.
	Interactive bool
	// Retries is how many more attempts follow a failed one.
	Retries int
	// RetryBackoff is the delay before the first retry.
	RetryBackoff time.Duration
	// Outputs are directories the box leaves for later boxes, Inputs those
	// it reads (pipeline boxes only): host directories mounted read-write
	// and read-only.
	Outputs []Output
	Inputs  []Input
	// Pos is where the box is defined (the agent block for kind: agent).
	Pos Pos

	path string // document path, for problems found after decoding
}

// IsCommand reports whether the box runs a command rather than an agent.
func (b *Box) IsCommand() bool { return len(b.Exec) > 0 }

// boxFields decodes what agents and pipeline boxes share into b, whose
// Sandbox and LLM must already be set.
func (d *decoder) boxFields(f *fields, b *Box) {
	b.Pos, b.path = d.pos(f.node), f.path
	b.OutputFile = DefaultOutputFile
	b.MaxTurns = DefaultMaxTurns
	b.Runtime = RuntimeVoidbox
	b.RetryBackoff = DefaultRetryBackoff

	if f.exclusive("prompt", "exec") && !f.has("prompt") && !f.has("exec") && !b.Interactive {
		d.at(f.node, f.path, `missing required field "prompt" (or "exec" for a command)`)
	}
	if v, ok := f.str("prompt"); ok {
		if strings.TrimSpace(v) == "" {
			d.at(f.m["prompt"].val, join(f.path, "prompt"), "empty prompt")
		}
		b.Prompt = v
	}
	if n, path, ok := f.get("exec"); ok {
		b.Exec = d.argv(n, path, b.Sandbox)
	}
	if n, path, ok := f.get("skills"); ok {
		b.Skills = d.skills(n, path)
	}
	if v, ok := d.timeout(f); ok {
		b.Timeout = v
	}
	if v, ok := f.str("output_file"); ok {
		if err := checkGuestPath(v); err != nil {
			d.at(f.m["output_file"].val, join(f.path, "output_file"), "%v", err)
		}
		b.OutputFile = v
	}
	if v, ok := f.integer("max_turns", 1, MaxMaxTurns); ok {
		b.MaxTurns = v
	}
	d.retries(f, &b.Retries, &b.RetryBackoff)
	d.runtime(f, b)
	if b.IsCommand() {
		for _, k := range []string{"max_turns", "runtime"} {
			if f.has(k) {
				d.at(f.key(k), join(f.path, k), "only applies to prompt boxes, not to exec")
			}
		}
		// An exec box runs no agent to read them; OCI skills (a mount
		// and PATH) and agent skills (reported with the runtime) aside.
		for _, s := range b.Skills {
			if s.Kind != SkillOCI && s.Kind != SkillAgent {
				d.atPos(s.Pos, s.path, "a %s skill only applies to prompt boxes, not to exec (an oci skill applies to both)", s.Kind)
			}
		}
	}
}

// runtime sets b.Runtime from the runtime field and any agent: skill, which
// must agree.
func (d *decoder) runtime(f *fields, b *Box) {
	var from string // what chose the runtime, for conflict messages
	var at func(format string, args ...any)
	if v, ok := f.str("runtime"); ok {
		switch r := Runtime(v); r {
		case RuntimeVoidbox, RuntimeClaudeCode, RuntimeCodex:
			b.Runtime, from = r, "runtime: "+v
			at = func(format string, args ...any) { d.at(f.m["runtime"].val, join(f.path, "runtime"), format, args...) }
		default:
			d.at(f.m["runtime"].val, join(f.path, "runtime"), "unknown runtime %q (valid: voidbox, claude-code, codex)", v)
		}
	}
	defer d.codexRuntime(f, b, &from)
	defer func() {
		// Claude Code's tools run inside its own process, which the guest
		// cannot look into: an allowlist would be silently ignored.
		if b.Runtime == RuntimeClaudeCode && b.Sandbox.Policy.AllowedCommands != nil && !b.IsCommand() && at != nil {
			at("runtime claude-code cannot enforce sandbox.allowed_commands yet: remove the allowlist or use runtime voidbox")
		}
	}()
	for _, s := range b.Skills {
		if s.Kind != SkillAgent {
			continue
		}
		path := s.path
		switch {
		case b.IsCommand():
			d.atPos(s.Pos, path, "an agent skill only applies to prompt boxes, not to exec")
		case strings.HasPrefix(from, "agent:"):
			// A second agent skill: uniqueSkills reports it.
		case from != "" && s.Runtime != b.Runtime:
			d.atPos(s.Pos, path, "agent:%s conflicts with %s", s.Runtime, from)
		default:
			b.Runtime, from = s.Runtime, "agent:"+string(s.Runtime)
			pos := s.Pos
			at = func(format string, args ...any) { d.atPos(pos, path, format, args...) }
		}
	}
}

// codexRuntime ties provider codex and runtime codex together: either one
// implies the other (a runtime codex box without a provider uses openai),
// and each refuses a mismatched partner.
func (d *decoder) codexRuntime(f *fields, b *Box, from *string) {
	if b.IsCommand() {
		return
	}
	switch {
	case b.LLM.Provider == ProviderCodex && b.Runtime == RuntimeVoidbox && *from == "":
		b.Runtime = RuntimeCodex
	case b.LLM.Provider == ProviderCodex && b.Runtime != RuntimeCodex:
		d.at(f.node, f.path, "provider codex runs the Codex CLI: it cannot be used with %s (use runtime codex, or provider openai)", *from)
	case b.Runtime == RuntimeCodex && !b.LLM.explicit:
		b.LLM.Provider = ProviderOpenAI
	case b.Runtime == RuntimeCodex && b.LLM.Provider != ProviderOpenAI && b.LLM.Provider != ProviderCodex:
		d.at(f.node, f.path, "runtime codex speaks OpenAI's Responses API: it needs provider openai (or codex), not %s", b.LLM.Provider)
	}
	if b.Runtime != RuntimeCodex {
		return
	}
	if b.Sandbox.Policy.AllowedCommands != nil {
		d.at(f.node, f.path, "runtime codex cannot enforce sandbox.allowed_commands: remove the allowlist or use runtime voidbox")
	}
	for _, s := range b.Skills {
		if s.Kind == SkillMCP {
			d.atPos(s.Pos, s.path, "runtime codex does not take mcp skills yet")
		}
	}
}

// argv decodes a non-empty command line whose program the sandbox allows.
func (d *decoder) argv(n *yamlNode, path string, sb Sandbox) []string {
	items, ok := d.seq(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.at(n, path, "empty command: want [program, args...]")
		return nil
	}
	out := make([]string, 0, len(items))
	for i, c := range items {
		if c == nil {
			return nil
		}
		s, ok := d.word(c, index(path, i))
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	d.checkProgram(items[0], index(path, 0), out[0], sb)
	return out
}

// checkProgram reports a program that is malformed or not allowlisted.
func (d *decoder) checkProgram(n *yamlNode, path, prog string, sb Sandbox) {
	if err := checkCommand(prog); err != nil {
		d.at(n, path, "%v", err)
		return
	}
	switch {
	case sb.Allows(prog):
	case wire.CheckCommandAllowed(sb.Policy.AllowedCommands, prog) != nil:
		listed := strings.Join(sb.Policy.AllowedCommands, ", ")
		if listed == "" {
			listed = "empty: no command may run"
		}
		d.at(n, path, "command %q is not in sandbox.allowed_commands (%s)", prog, listed)
	default:
		d.at(n, path, "command %q is outside the directories sandbox.allowed_commands trusts (%s)", prog, strings.Join(wire.CommandDirs(), ", "))
	}
}

// timeout decodes timeout_secs or timeout, which are mutually exclusive.
func (d *decoder) timeout(f *fields) (time.Duration, bool) {
	if !f.exclusive("timeout_secs", "timeout") {
		return 0, false
	}
	if secs, ok := f.integer("timeout_secs", 1, int64(MaxTimeout/time.Second)); ok {
		return time.Duration(secs) * time.Second, true
	}
	return f.duration("timeout", time.Nanosecond, MaxTimeout)
}

// retries decodes retries and retry_backoff.
func (d *decoder) retries(f *fields, retries *int, backoff *time.Duration) {
	if v, ok := f.integer("retries", 0, MaxRetries); ok {
		*retries = v
	}
	if v, ok := f.duration("retry_backoff", 0, MaxRetryBackoff); ok {
		*backoff = v
	}
}

// mode decodes mode: task (the default) or service, which it reports.
// interactive is refused: only a kind: agent spec's agent can be one (see
// agentMode).
func (d *decoder) mode(f *fields) bool {
	v, ok := f.str("mode")
	if !ok {
		return false
	}
	n, path := f.m["mode"].val, join(f.path, "mode")
	switch v {
	case "task":
	case "service":
		return true
	case "interactive":
		d.at(n, path, "mode interactive applies to the agent of a kind: agent spec only (a session on your terminal: voidbox shell --file)")
	default:
		d.at(n, path, "unknown mode %q (valid: task, service)", v)
	}
	return false
}

// agentMode decodes a kind: agent spec's mode into b: task, service or
// interactive (a Claude Code session on the user's terminal).
func (d *decoder) agentMode(f *fields, b *Box) {
	v, ok := f.str("mode")
	if !ok {
		return
	}
	n, path := f.m["mode"].val, join(f.path, "mode")
	switch v {
	case "task":
	case "service":
		b.Service = true
	case "interactive":
		b.Interactive = true
	default:
		d.at(n, path, "unknown mode %q (valid: task, service, interactive)", v)
	}
}

// checkInteractive reports what an interactive agent cannot have; b's
// fields are decoded.
func (d *decoder) checkInteractive(f *fields, b *Box) {
	if !b.Interactive {
		return
	}
	n, path := f.m["mode"].val, join(f.path, "mode")
	switch {
	case b.IsCommand():
		d.at(n, path, "mode interactive is a session with an agent, not a command (for a shell: voidbox shell)")
	case b.Runtime != RuntimeClaudeCode && chosenRuntime(f, b):
		// The built-in agent works a task to its end: it has no session a
		// terminal could drive.
		d.at(n, path, "mode interactive needs runtime claude-code (or the agent:claude-code skill): the built-in agent has no interactive session")
	case b.Runtime != RuntimeClaudeCode:
		// The seed's agent is always Claude Code, so its interactive specs
		// name no runtime: take the one runtime that has a session, and say so.
		switch {
		case b.Sandbox.Policy.AllowedCommands != nil:
			d.at(n, path, "mode interactive runs Claude Code, which cannot enforce sandbox.allowed_commands yet: remove the allowlist")
		default:
			b.Runtime = RuntimeClaudeCode
			d.note(n, path, "mode interactive: the session is Claude Code's (runtime claude-code, as in the seed); the built-in agent has none")
		}
	}
	for _, k := range []string{"max_turns", "retries"} {
		if f.has(k) {
			d.at(f.key(k), join(f.path, k), "does not apply to mode interactive (a session runs until you leave it)")
		}
	}
	b.MaxTurns = 0
}

// chosenRuntime reports whether the spec names b's runtime (the runtime
// field or an agent: skill) rather than leaving the default.
func chosenRuntime(f *fields, b *Box) bool {
	if f.has("runtime") {
		return true
	}
	for _, s := range b.Skills {
		if s.Kind == SkillAgent {
			return true
		}
	}
	return false
}

func (d *decoder) atPos(p Pos, path, format string, args ...any) {
	d.at(&yaml.Node{Line: p.Line, Column: p.Col}, path, format, args...)
}
