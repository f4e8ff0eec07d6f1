package claudecode

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
)

// Guest-side defaults of a run.
const (
	// GuestHome is the sandbox user's home; it must be writable (claude-code
	// keeps ~/.claude.json and ~/.claude/ there).
	GuestHome = "/home/sandbox"
	// PlaceholderAPIKey is the only key the guest ever holds; the host
	// gateway replaces it with the real one.
	PlaceholderAPIKey = "sk-ant-voidbox-placeholder"
	// GuestPath is the PATH of the run: the guest's busybox tools.
	GuestPath = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	// MaxArgPrompt is the longest prompt passed as an argument; Linux caps
	// one argument at 128 KiB (MAX_ARG_STRLEN). Longer prompts go on stdin.
	MaxArgPrompt = 100 << 10
)

// Config is one headless claude-code run in the guest.
type Config struct {
	// Prompt is the task. Required.
	Prompt string
	// Model is passed as --model; "" leaves claude-code's default.
	Model string
	// MaxTurns is passed as --max-turns; 0 means claude-code's default.
	MaxTurns int
	// MCPConfig is the guest path of an MCP servers JSON file; "" means no
	// MCP servers at all (--strict-mcp-config is always passed, so a
	// workspace's own .mcp.json is never picked up).
	MCPConfig string
	// AppendSystemPrompt is added to claude-code's system prompt.
	AppendSystemPrompt string
	// BaseURL is the in-guest LLM endpoint, "http://127.0.0.1:<port>". Required.
	BaseURL string
	// APIKey is the placeholder key; "" means PlaceholderAPIKey.
	APIKey string
	// Home is the sandbox user's home; "" means GuestHome.
	Home string
	// GuestDir is where the flavour is mounted; "" means GuestDir.
	GuestDir string
	// Shell is the Bash tool's shell (a path containing "bash" or "zsh");
	// "" means the flavour's bash.
	Shell string
	// MaxRetries caps claude-code's retries of a failed API request
	// (CLAUDE_CODE_MAX_RETRIES); 0 keeps its default of 10 with backoff,
	// which can take minutes when the gateway keeps failing.
	MaxRetries int
	// Interactive is a session on a terminal instead of a headless run:
	// Prompt (optional) is its first message, MaxTurns does not apply, and
	// the home needs HomeConfig written first.
	Interactive bool
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Prompt == "" && !c.Interactive:
		errs = append(errs, errors.New("prompt is empty"))
	case c.Interactive && len(c.Prompt) > MaxArgPrompt:
		// A session reads its terminal, not stdin: the prompt must be an argument.
		errs = append(errs, fmt.Errorf("prompt of %d bytes: a session's first message is at most %d", len(c.Prompt), MaxArgPrompt))
	case c.Interactive && c.MaxTurns > 0:
		errs = append(errs, errors.New("max turns: a session has no turn limit (claude-code takes it in headless runs only)"))
	}
	if u, err := url.Parse(c.BaseURL); c.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("base URL %q: want http://127.0.0.1:<port>", c.BaseURL))
	}
	if c.MaxTurns < 0 {
		errs = append(errs, fmt.Errorf("max turns %d is negative", c.MaxTurns))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("max retries %d is negative", c.MaxRetries))
	}
	for _, p := range [][2]string{{"mcp config", c.MCPConfig}, {"home", c.Home}, {"guest dir", c.GuestDir}} {
		if p[1] != "" && !path.IsAbs(p[1]) {
			errs = append(errs, fmt.Errorf("%s %q is not an absolute guest path", p[0], p[1]))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: claude-code run: %w", ErrInvalid, err)
	}
	return nil
}

// Command returns the argv and the complete environment of a headless
// claude-code run: run it as uid 1000 (claude-code refuses to skip
// permission checks as root) in /workspace, with Stdin() as its stdin.
//
//	claude -p --output-format stream-json --verbose
//	       --dangerously-skip-permissions --no-session-persistence --strict-mcp-config
//	       [--model M] [--max-turns N] [--mcp-config F] [--append-system-prompt S] -- <prompt>
//
// Nothing may prompt: -p is non-interactive and permission checks are off
// (the VM is the boundary). The environment points claude-code at BaseURL
// with the placeholder key and turns off everything that would reach
// another host (checked against the real binary: with these variables it
// connects to BaseURL only). Stdout is stream-json, for package streamjson.
func Command(c Config) (argv []string, env map[string]string) {
	dir := c.GuestDir
	if dir == "" {
		dir = GuestDir
	}
	home := c.Home
	if home == "" {
		home = GuestHome
	}
	key := c.APIKey
	if key == "" {
		key = PlaceholderAPIKey
	}
	argv = []string{path.Join(dir, "bin/claude")}
	if !c.Interactive {
		argv = append(argv, "-p", "--output-format", "stream-json", "--verbose")
	}
	argv = append(argv, "--dangerously-skip-permissions")
	if !c.Interactive {
		// Stages are never resumed: keep no transcript in the guest's home
		// (the flag exists for headless runs only; a session's transcript
		// goes with its VM).
		argv = append(argv, "--no-session-persistence")
	}
	argv = append(argv, "--strict-mcp-config")
	if c.Model != "" {
		argv = append(argv, "--model", c.Model)
	}
	if c.MaxTurns > 0 {
		argv = append(argv, "--max-turns", strconv.Itoa(c.MaxTurns))
	}
	if c.MCPConfig != "" {
		argv = append(argv, "--mcp-config", c.MCPConfig)
	}
	if c.AppendSystemPrompt != "" {
		argv = append(argv, "--append-system-prompt", c.AppendSystemPrompt)
	}
	if c.Prompt != "" && len(c.Prompt) <= MaxArgPrompt {
		// After "--", a prompt starting with "-" is not taken for a flag.
		argv = append(argv, "--", c.Prompt)
	}
	shell := c.Shell
	if shell == "" {
		shell = path.Join(dir, "bin/bash")
	}
	env = map[string]string{
		"ANTHROPIC_BASE_URL": c.BaseURL,
		"ANTHROPIC_API_KEY":  key,
		// Turns off the auto-updater, telemetry, error reporting and the
		// other calls to Anthropic's hosts; without it the binary dials
		// api.anthropic.com:443 besides BaseURL (measured). The three
		// narrower switches are set too, in case a release splits them.
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
		"DISABLE_AUTOUPDATER":                      "1",
		"DISABLE_TELEMETRY":                        "1",
		"DISABLE_ERROR_REPORTING":                  "1",
		"HOME":                                     home,
		// The Bash tool accepts only a shell whose path contains "bash" or
		// "zsh"; the flavour brings Debian's bash.
		"CLAUDE_CODE_SHELL": shell,
		"SHELL":             shell,
		"PATH":              GuestPath,
	}
	if c.MaxRetries > 0 {
		env["CLAUDE_CODE_MAX_RETRIES"] = strconv.Itoa(c.MaxRetries)
	}
	return argv, env
}

// Stdin returns what the run must read on stdin: the prompt when it is too
// long for an argument, else nothing. Stdin must be at EOF (/dev/null, an
// empty pipe) in the latter case too: claude-code appends whatever it
// reads on stdin to the prompt.
func (c Config) Stdin() []byte {
	if len(c.Prompt) > MaxArgPrompt {
		return []byte(c.Prompt)
	}
	return nil
}
