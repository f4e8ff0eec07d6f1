package event

// Agent events: emitted by an agent runtime in the guest (the built-in
// agent writes them as JSON lines; Claude Code's stream is translated into
// them on the host) and by the host's LLM gateway (LLMRequest).
const (
	TypeAgentStarted  Type = "agent.started"
	TypeAgentTurn     Type = "agent.turn"
	TypeAgentToolCall Type = "agent.tool_call"
	TypeAgentDenied   Type = "agent.denied"
	TypeAgentFinished Type = "agent.finished"
	TypeLLMRequest    Type = "llm.request"
	TypeSkillFetched  Type = "skill.fetched"
)

// SkillFetched: a remote: skill installed in the attempt's VM, with where
// its SKILL.md came from and its content hash.
type SkillFetched struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Cached bool   `json:"cached,omitempty"` // the network failed: the copy cached last time
}

func (SkillFetched) EventType() Type { return TypeSkillFetched }

// AgentStarted: the model client and every tool are ready.
type AgentStarted struct {
	Provider string   `json:"provider"`
	Model    string   `json:"model"`
	Tools    []string `json:"tools"` // built-in tools and <server>__<tool> MCP tools
}

// AgentTurn is one model response, with the tokens the agent saw.
type AgentTurn struct {
	Turn         int    `json:"turn"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	StopReason   string `json:"stop_reason"`
}

// AgentToolCall is one tool call, after it ran.
type AgentToolCall struct {
	Turn       int    `json:"turn"`
	Name       string `json:"name"`
	DurationMS int64  `json:"duration_ms"`
	ExitCode   *int   `json:"exit_code,omitempty"` // bash only
	Error      string `json:"error,omitempty"`
	Denied     bool   `json:"denied,omitempty"` // the policy refused a command
}

// AgentDenied is a command a tool call tried that allowed_commands refused;
// the stage goes on.
type AgentDenied struct {
	Command string `json:"command"`
	Reason  string `json:"reason"`
}

// AgentFinished ends the agent's run.
type AgentFinished struct {
	Turns        int    `json:"turns"`
	ToolCalls    int    `json:"tool_calls"`
	InputTokens  int64  `json:"input_tokens,omitempty"`
	OutputTokens int64  `json:"output_tokens,omitempty"`
	FinalText    string `json:"final_text,omitempty"`
	OutputFile   string `json:"output_file,omitempty"`
	Error        string `json:"error,omitempty"`
}

// LLMRequest is one model request the host gateway forwarded: counts and
// timings, never prompt text, never keys.
type LLMRequest struct {
	// Provider is the box's provider kind (anthropic, openai, ollama,
	// custom): where the gateway sent the request.
	Provider     string  `json:"provider,omitempty"`
	Method       string  `json:"method"`
	Path         string  `json:"path"`
	Status       int     `json:"status"`
	Model        string  `json:"model"`
	DurationMS   int64   `json:"duration_ms"`
	Streamed     bool    `json:"streamed"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	Error        string  `json:"error,omitempty"`
}

func (AgentStarted) EventType() Type  { return TypeAgentStarted }
func (AgentTurn) EventType() Type     { return TypeAgentTurn }
func (AgentToolCall) EventType() Type { return TypeAgentToolCall }
func (AgentDenied) EventType() Type   { return TypeAgentDenied }
func (AgentFinished) EventType() Type { return TypeAgentFinished }
func (LLMRequest) EventType() Type    { return TypeLLMRequest }
