package codex

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// Guest-side defaults of a run.
const (
	// GuestHome is the sandbox user's home; Codex keeps its state in
	// ~/.codex (CODEX_HOME), so it must be writable.
	GuestHome = "/home/sandbox"
	// PlaceholderEnv names the variable the "voidbox" model provider reads
	// its key from.
	PlaceholderEnv = "VOIDBOX_LLM_KEY"
	// PlaceholderKey is the only key the guest ever holds; the host gateway
	// drops it and adds the real one.
	PlaceholderKey = "sk-voidbox-placeholder"
	// GuestPath is the PATH of the run: the flavour's rg, then busybox.
	GuestPath = GuestDir + "/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	// Workdir is where the run works.
	Workdir = "/workspace"
	// MaxArgPrompt is the longest prompt passed as an argument (Linux caps
	// one argument at 128 KiB); longer prompts go on stdin.
	MaxArgPrompt = 100 << 10
	// maxModel bounds a model name.
	maxModel = 256
)

// Config is one headless `codex exec` run in the guest.
type Config struct {
	// Prompt is the task. Required.
	Prompt string
	// Model is the model Codex asks for; "" leaves Codex's default.
	Model string
	// BaseURL is the in-guest LLM endpoint, "http://127.0.0.1:<port>". Required.
	BaseURL string
	// Home is the sandbox user's home; "" means GuestHome.
	Home string
	// ChatGPT runs Codex in its ChatGPT-login mode: the gateway holds the
	// host's ChatGPT login, the guest a placeholder one (PlaceholderAuth at
	// AuthPath) and the requests take that mode's shape and routes.
	ChatGPT bool
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Prompt == "" {
		errs = append(errs, errors.New("prompt is empty"))
	}
	if u, err := url.Parse(c.BaseURL); c.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("base URL %q: want http://127.0.0.1:<port>", c.BaseURL))
	}
	if len(c.Model) > maxModel || !utf8.ValidString(c.Model) || strings.ContainsFunc(c.Model, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		errs = append(errs, fmt.Errorf("model %q: want a printable name of at most %d bytes", c.Model, maxModel))
	}
	if c.Home != "" && !path.IsAbs(c.Home) {
		errs = append(errs, fmt.Errorf("home %q is not an absolute guest path", c.Home))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("codex run: %w", err)
	}
	return nil
}

func (c Config) home() string {
	if c.Home == "" {
		return GuestHome
	}
	return c.Home
}

// ConfigPath is where ConfigTOML goes: $CODEX_HOME/config.toml.
func (c Config) ConfigPath() string { return path.Join(c.home(), ".codex", "config.toml") }

// ConfigTOML is the run's ~/.codex/config.toml: one model provider, the
// gateway, speaking the Responses API with the placeholder key. Retries are
// few: the gateway already failed or succeeded for real. Analytics and
// feedback uploads are off, and no other host is configured, so every
// request Codex makes goes to the gateway (checked against 0.171.0 on the
// host with a fake: it sent only POST /v1/responses).
//
// In ChatGPT mode the provider takes the (placeholder) login instead of a
// key, its routes are the backend's (/responses, /models), and
// chatgpt_base_url points Codex's other ChatGPT calls (connectors, usage)
// at the gateway too, which refuses them: checked the same way, 0.171.0
// otherwise dials chatgpt.com for them.
func (c Config) ConfigTOML() []byte {
	var b strings.Builder
	if c.Model != "" {
		fmt.Fprintf(&b, "model = %s\n", tomlString(c.Model))
	}
	base := strings.TrimSuffix(c.BaseURL, "/")
	if c.ChatGPT {
		fmt.Fprintf(&b, "chatgpt_base_url = %s\n", tomlString(base+"/backend-api/"))
	}
	b.WriteString(`model_provider = "voidbox"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[analytics]
enabled = false

[feedback]
enabled = false

[model_providers.voidbox]
name = "voidbox gateway"
`)
	if c.ChatGPT {
		fmt.Fprintf(&b, "base_url = %s\n", tomlString(base))
		b.WriteString("requires_openai_auth = true\n")
	} else {
		fmt.Fprintf(&b, "base_url = %s\n", tomlString(base+"/v1"))
		fmt.Fprintf(&b, "env_key = %s\n", tomlString(PlaceholderEnv))
	}
	b.WriteString(`wire_api = "responses"
request_max_retries = 1
stream_max_retries = 1
`)
	return []byte(b.String())
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Command returns the argv and complete environment of a headless run, as
// uid 1000 in Workdir with Stdin() on stdin; ConfigTOML must be at
// ConfigPath first.
//
//	codex exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox
//	           --cd /workspace [--model M] -- <prompt>
//
// Stdout is JSON lines, for package execjson.
func Command(c Config) (argv []string, env map[string]string) {
	argv = []string{path.Join(GuestDir, "bin/codex"), "exec", "--json", "--skip-git-repo-check",
		"--dangerously-bypass-approvals-and-sandbox", "--cd", Workdir}
	if c.Model != "" {
		argv = append(argv, "--model", c.Model)
	}
	if len(c.Prompt) <= MaxArgPrompt {
		argv = append(argv, "--", c.Prompt)
	} else {
		argv = append(argv, "-") // the prompt is on stdin
	}
	env = map[string]string{
		PlaceholderEnv: PlaceholderKey,
		"HOME":         c.home(),
		"CODEX_HOME":   path.Join(c.home(), ".codex"),
		"PATH":         GuestPath,
		"SHELL":        "/bin/sh",
		// A terminal-less run: no colours in what Codex prints on stderr.
		"NO_COLOR": "1",
	}
	if c.ChatGPT {
		// Were Codex to refresh its placeholder login, the gateway refuses
		// the request (the host refreshes the real one).
		env["CODEX_REFRESH_TOKEN_URL_OVERRIDE"] = strings.TrimSuffix(c.BaseURL, "/") + "/oauth/token"
	}
	return argv, env
}

// Stdin is what the run reads on stdin: the prompt when it is too long for
// an argument, else nothing (stdin must then be at EOF: Codex appends what
// it reads there to the prompt).
func (c Config) Stdin() []byte {
	if len(c.Prompt) > MaxArgPrompt {
		return []byte(c.Prompt)
	}
	return nil
}
