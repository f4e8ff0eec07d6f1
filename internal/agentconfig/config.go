// Package agentconfig is the contract between the host and the built-in
// agent: the configuration the host writes into the guest and the agent
// reads (provider, model, prompt, skills, MCP servers, allowed commands).
// It depends on the standard library and internal/wire only, so the host
// writes it without linking the agent's model and MCP clients.
package agentconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
)

// ErrInvalidConfig marks a config that cannot be run.
var ErrInvalidConfig = errors.New("invalid agent config")

// Provider is the API dialect of the model endpoint.
type Provider string

const (
	// ProviderAnthropic speaks the Anthropic Messages API (also Ollama ≥ 0.14
	// and other Anthropic-compatible servers).
	ProviderAnthropic Provider = "anthropic"
	// ProviderOpenAI speaks OpenAI Chat Completions (OpenAI, vLLM, Ollama /v1).
	ProviderOpenAI Provider = "openai"
)

// Defaults applied by Load and Run to zero fields.
const (
	DefaultWorkspace   = "/workspace"
	DefaultMaxTurns    = 20
	DefaultMaxTokens   = 8192
	DefaultToolTimeout = 2 * time.Minute
	// InlineInputLimit is the largest input file inlined in the first
	// message; a larger one is left for the agent to read.
	InlineInputLimit = 16 << 10
)

// Config is the agent's whole configuration, written by the host as JSON
// (conventionally /run/voidbox/agent/config.json) and read once at start.
// Unknown fields are an error, so host and guest versions cannot drift
// silently.
type Config struct {
	Provider Provider `json:"provider"`
	// BaseURL is the model endpoint inside the guest, e.g.
	// http://127.0.0.1:4000: the root of the API, without /v1.
	BaseURL   string `json:"base_url"`
	Model     string `json:"model"`
	MaxTokens int    `json:"max_tokens,omitempty"` // per response; DefaultMaxTokens if 0
	Prompt    string `json:"prompt"`
	// SystemPrompt is appended to the built-in system prompt.
	SystemPrompt string `json:"system_prompt,omitempty"`
	// Workspace is the agent's working directory; DefaultWorkspace if empty.
	Workspace string `json:"workspace,omitempty"`
	// InputFile is the previous stage's output; <workspace>/input.json if
	// empty. It may be absent.
	InputFile string `json:"input_file,omitempty"`
	// OutputFile receives the final answer unless the agent wrote it
	// itself; <workspace>/output.json if empty.
	OutputFile string      `json:"output_file,omitempty"`
	Skills     []Skill     `json:"skills,omitempty"`
	MCPServers []MCPServer `json:"mcp_servers,omitempty"`
	// MaxTurns caps model responses; DefaultMaxTurns if 0.
	MaxTurns int `json:"max_turns,omitempty"`
	// AllowedCommands lists the program names bash may run (the guest's
	// rule, wire.AllowedProgram). null or absent: no allowlist; []: no
	// program at all. Never omitempty: the host writes [] to deny all.
	AllowedCommands []string `json:"allowed_commands"`
	// TrustedDirs are directories the allowlist trusts besides the
	// system's: the bin/ of OCI skill images, mounted read-only.
	TrustedDirs []string `json:"trusted_dirs,omitempty"`
	// ToolTimeout bounds one tool call; DefaultToolTimeout if 0.
	ToolTimeout Duration `json:"tool_timeout,omitempty"`
	// MaxRetries is how often a failed model request is retried (connection
	// errors, 408, 409, 429, 5xx): 2 if 0, none if negative.
	MaxRetries int `json:"max_retries,omitempty"`
}

// Skill is an entry of the skills index shown to the model. The SKILL.md
// file is already in the guest; the model reads it when it needs it.
type Skill struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Path        string `json:"path"` // of SKILL.md in the guest
}

// MCPServer is an MCP server the agent connects to: Command (stdio, a child
// process of the agent) or URL (streamable HTTP).
type MCPServer struct {
	Name    string            `json:"name"`
	Command string            `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	URL     string            `json:"url,omitempty"`
}

// Duration is a time.Duration written in JSON as a string ("90s", "2m").
// A bare number is read as seconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err := json.Unmarshal(b, &secs); err != nil {
			return fmt.Errorf("duration: want a string like \"90s\" or a number of seconds, got %s", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// LoadConfig reads, defaults and validates a config file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, path, err)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// WithDefaults returns c with every zero field that has a default set.
func (c Config) WithDefaults() Config {
	if c.Workspace == "" {
		c.Workspace = DefaultWorkspace
	}
	if c.InputFile == "" {
		c.InputFile = filepath.Join(c.Workspace, "input.json")
	}
	if c.OutputFile == "" {
		c.OutputFile = filepath.Join(c.Workspace, "output.json")
	}
	if c.MaxTurns == 0 {
		c.MaxTurns = DefaultMaxTurns
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.ToolTimeout == 0 {
		c.ToolTimeout = Duration(DefaultToolTimeout)
	}
	return c
}

// serverNameRE keeps MCP tool names ("<server>__<tool>") valid for every
// provider and unambiguous.
var serverNameRE = regexp.MustCompile(`^[a-zA-Z0-9-]{1,32}$`)

// Validate reports every problem of a defaulted config, each naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...)))
	}
	switch c.Provider {
	case ProviderAnthropic, ProviderOpenAI:
	default:
		bad("provider", "%q is not one of anthropic, openai", c.Provider)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base_url", "%q is not an http(s) URL", c.BaseURL)
	}
	if c.Model == "" {
		bad("model", "required")
	}
	if strings.TrimSpace(c.Prompt) == "" {
		bad("prompt", "required")
	}
	if c.MaxTokens < 1 {
		bad("max_tokens", "must be positive, got %d", c.MaxTokens)
	}
	if c.MaxTurns < 1 {
		bad("max_turns", "must be positive, got %d", c.MaxTurns)
	}
	if c.ToolTimeout <= 0 {
		bad("tool_timeout", "must be positive, got %v", time.Duration(c.ToolTimeout))
	}
	for field, p := range map[string]string{"workspace": c.Workspace, "input_file": c.InputFile, "output_file": c.OutputFile} {
		if !filepath.IsAbs(p) {
			bad(field, "%q is not an absolute path", p)
		}
	}
	for i, name := range c.AllowedCommands {
		if err := wire.CheckCommandName(name); err != nil {
			bad(fmt.Sprintf("allowed_commands[%d]", i), "%v", err)
		}
	}
	for i, s := range c.Skills {
		if s.Name == "" || s.Path == "" {
			bad(fmt.Sprintf("skills[%d]", i), "name and path are required")
		}
	}
	seen := map[string]bool{}
	for i, s := range c.MCPServers {
		field := fmt.Sprintf("mcp_servers[%d]", i)
		if !serverNameRE.MatchString(s.Name) {
			bad(field+".name", "%q must be 1-32 letters, digits or hyphens", s.Name)
		}
		if seen[s.Name] {
			bad(field+".name", "%q is used twice", s.Name)
		}
		seen[s.Name] = true
		if (s.Command == "") == (s.URL == "") {
			bad(field, "set exactly one of command (stdio) and url (http)")
		}
		if s.URL != "" {
			if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				bad(field+".url", "%q is not an http(s) URL", s.URL)
			}
		}
	}
	return errors.Join(errs...)
}
