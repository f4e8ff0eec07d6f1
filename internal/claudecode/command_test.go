package claudecode

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	argv, env := Command(Config{
		Prompt: "-p is not a flag here", Model: "claude-sonnet-4-5", MaxTurns: 7,
		MCPConfig: "/workspace/.mcp.json", AppendSystemPrompt: "be brief",
		BaseURL: "http://127.0.0.1:4000", MaxRetries: 2,
	})
	want := []string{"/opt/voidbox/claude-code/bin/claude", "-p", "--output-format", "stream-json", "--verbose",
		"--dangerously-skip-permissions", "--no-session-persistence", "--strict-mcp-config",
		"--model", "claude-sonnet-4-5", "--max-turns", "7", "--mcp-config", "/workspace/.mcp.json",
		"--append-system-prompt", "be brief", "--", "-p is not a flag here"}
	if !slices.Equal(argv, want) {
		t.Errorf("argv\n got %q\nwant %q", argv, want)
	}
	wantEnv := map[string]string{
		"ANTHROPIC_BASE_URL": "http://127.0.0.1:4000", "ANTHROPIC_API_KEY": PlaceholderAPIKey,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1",
		"DISABLE_ERROR_REPORTING": "1", "HOME": "/home/sandbox",
		"CLAUDE_CODE_SHELL": "/opt/voidbox/claude-code/bin/bash", "SHELL": "/opt/voidbox/claude-code/bin/bash",
		"PATH": GuestPath, "CLAUDE_CODE_MAX_RETRIES": "2",
	}
	if len(env) != len(wantEnv) {
		t.Errorf("env has %d entries, want %d: %v", len(env), len(wantEnv), env)
	}
	for k, v := range wantEnv {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
}

func TestCommandMinimalAndOverrides(t *testing.T) {
	c := Config{Prompt: "hi", BaseURL: "http://127.0.0.1:1", Home: "/root2", GuestDir: "/mnt/cc", APIKey: "sk-other"}
	argv, env := Command(c)
	if argv[0] != "/mnt/cc/bin/claude" || argv[len(argv)-1] != "hi" || slices.Contains(argv, "--model") || slices.Contains(argv, "--max-turns") {
		t.Errorf("argv %q", argv)
	}
	if env["HOME"] != "/root2" || env["ANTHROPIC_API_KEY"] != "sk-other" || env["CLAUDE_CODE_SHELL"] != "/mnt/cc/bin/bash" {
		t.Errorf("env %v", env)
	}
	if _, ok := env["CLAUDE_CODE_MAX_RETRIES"]; ok {
		t.Errorf("retries set without MaxRetries")
	}
	if c.Stdin() != nil {
		t.Errorf("a short prompt also went to stdin")
	}
}

func TestLongPromptGoesToStdin(t *testing.T) {
	c := Config{Prompt: strings.Repeat("x", MaxArgPrompt+1), BaseURL: "http://127.0.0.1:1"}
	argv, _ := Command(c)
	if slices.Contains(argv, "--") || argv[len(argv)-1] == c.Prompt {
		t.Errorf("long prompt in argv")
	}
	if string(c.Stdin()) != c.Prompt {
		t.Errorf("Stdin does not carry the prompt")
	}
	c.Prompt = c.Prompt[1:]
	if argv, _ := Command(c); argv[len(argv)-1] != c.Prompt || c.Stdin() != nil {
		t.Errorf("a prompt of exactly MaxArgPrompt bytes should be an argument")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Prompt: "x", BaseURL: "http://127.0.0.1:9"}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	err := Config{BaseURL: "ftp://x", MaxTurns: -1, MaxRetries: -2, MCPConfig: "rel/mcp.json", Home: "home"}.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"prompt is empty", "base URL", "max turns -1", "max retries -2", "mcp config", "home"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
}

func TestSkillPath(t *testing.T) {
	p, err := SkillPath("", "csv-stats")
	if err != nil || p != "/home/sandbox/.claude/skills/csv-stats/SKILL.md" {
		t.Errorf("SkillPath = %q, %v", p, err)
	}
	if d, err := SkillDir("/h", "My.Skill_1"); err != nil || d != "/h/.claude/skills/My.Skill_1" {
		t.Errorf("SkillDir = %q, %v", d, err)
	}
	for _, bad := range []string{"", "..", ".hidden", "a/b", strings.Repeat("a", 65), "sp ace"} {
		if _, err := SkillPath("", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SkillPath(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestMoveSystemMessages(t *testing.T) {
	body := `{"model":"m","system":[{"type":"text","text":"base"}],"messages":[` +
		`{"role":"user","content":"hi"},{"role":"system","content":[{"type":"text","text":"# Environment"}]},{"role":"assistant","content":"yo"}]}`
	out, n := moveSystemMessages([]byte(body))
	if n != 1 || strings.Contains(string(out), `"role":"system"`) || !strings.Contains(string(out), `{"text":"# Environment","type":"text"}`) {
		t.Errorf("moved %d: %s", n, out)
	}
	if out, n := moveSystemMessages([]byte(`{"messages":[{"role":"user","content":"x"}]}`)); n != 0 || string(out) != `{"messages":[{"role":"user","content":"x"}]}` {
		t.Errorf("an untouched body changed: %s", out)
	}
}

func TestInteractiveCommand(t *testing.T) {
	c := Config{Interactive: true, Prompt: "start here", BaseURL: "http://127.0.0.1:4000", AppendSystemPrompt: "be brief"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	argv, env := Command(c)
	want := []string{"/opt/voidbox/claude-code/bin/claude", "--dangerously-skip-permissions", "--strict-mcp-config",
		"--append-system-prompt", "be brief", "--", "start here"}
	if !slices.Equal(argv, want) {
		t.Errorf("argv\n got %q\nwant %q", argv, want)
	}
	if env["ANTHROPIC_API_KEY"] != PlaceholderAPIKey || env["ANTHROPIC_BASE_URL"] != c.BaseURL {
		t.Errorf("env %v", env)
	}
	c.Prompt = ""
	if argv, _ := Command(c); slices.Contains(argv, "--") {
		t.Errorf("a session without a prompt got one: %q", argv)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("a session without a prompt: %v", err)
	}
	for _, bad := range []Config{
		{Interactive: true, BaseURL: c.BaseURL, MaxTurns: 3},
		{Interactive: true, BaseURL: c.BaseURL, Prompt: strings.Repeat("x", MaxArgPrompt+1)},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", bad.MaxTurns, err)
		}
	}
}

func TestHomeConfig(t *testing.T) {
	b, err := HomeConfig("/workspace", "")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"hasCompletedOnboarding": true`, `"-voidbox-placeholder"`, `"/workspace": {`, `"hasTrustDialogAccepted": true`, `"bypassPermissionsModeAccepted": true`} {
		if !strings.Contains(s, want) {
			t.Errorf("home config lacks %s:\n%s", want, s)
		}
	}
	if HomeConfigPath("") != "/home/sandbox/.claude.json" {
		t.Errorf("path %s", HomeConfigPath(""))
	}
}
