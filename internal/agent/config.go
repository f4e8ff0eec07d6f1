package agent

import "github.com/voidbox/voidbox/internal/agentconfig"

// The agent's configuration is defined in internal/agentconfig (the
// host↔agent contract); these names keep the agent's code short.
type (
	Config    = agentconfig.Config
	Provider  = agentconfig.Provider
	Skill     = agentconfig.Skill
	MCPServer = agentconfig.MCPServer
	Duration  = agentconfig.Duration
)

const (
	ProviderAnthropic  = agentconfig.ProviderAnthropic
	ProviderOpenAI     = agentconfig.ProviderOpenAI
	DefaultWorkspace   = agentconfig.DefaultWorkspace
	DefaultMaxTurns    = agentconfig.DefaultMaxTurns
	DefaultMaxTokens   = agentconfig.DefaultMaxTokens
	DefaultToolTimeout = agentconfig.DefaultToolTimeout
	InlineInputLimit   = agentconfig.InlineInputLimit
)

// ErrInvalidConfig marks a config that cannot be run.
var ErrInvalidConfig = agentconfig.ErrInvalidConfig

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (Config, error) { return agentconfig.LoadConfig(path) }
