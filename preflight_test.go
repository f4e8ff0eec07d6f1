package voidbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPreflight: what would fail every attempt fails the run before any VM
// boots, naming the stage and the fix.
func TestPreflight(t *testing.T) {
	t.Setenv("VOIDBOX_NO_SUCH_KEY", "")
	t.Setenv("VOIDBOX_CODEX_TEST_KEY", "sk-x")
	host := HostOptions{Image: Image{Kernel: "/unused"}, QEMU: "/unused", CacheDir: t.TempDir()}
	// A corrupt Claude login: the error names the file.
	claudeDir := t.TempDir()
	creds := filepath.Join(claudeDir, ".credentials.json")
	os.WriteFile(creds, []byte(`{"claudeAiOauth": {"accessToken": "sk-ant-oat01-x`), 0o600)
	t.Setenv("CLAUDE_CONFIG_DIR", claudeDir)
	t.Setenv("CLAUDE_CODE_OAUTH_TOKEN", "")
	// No OpenAI key; CODEX_HOME is empty, then holds a corrupt login.
	t.Setenv("OPENAI_API_KEY", "")
	codexHome := t.TempDir()
	t.Setenv("CODEX_HOME", codexHome)
	badCodex := filepath.Join(codexHome, "auth.json")
	cases := []struct {
		box  *Box
		is   error
		want string
	}{
		{NewBox("nokey").Prompt("x").LLM(LLM{Provider: "claude", APIKeyEnv: "VOIDBOX_NO_SUCH_KEY"}), ErrInvalid, "VOIDBOX_NO_SUCH_KEY"},
		{NewBox("claude").Prompt("x").Runtime(RuntimeClaudeCode).LLM(LLM{Provider: "ollama"}), ErrMissingDependency, "voidbox image build claude"},
		{NewBox("codexkey").Prompt("x").LLM(LLM{Provider: "codex", APIKeyEnv: "VOIDBOX_NO_SUCH_KEY"}), ErrInvalid, "needs the OpenAI API key in VOIDBOX_NO_SUCH_KEY (api_key_env)"},
		{NewBox("codexlogin").Prompt("x").LLM(LLM{Provider: "codex"}), ErrInvalid, "an OpenAI API key in OPENAI_API_KEY or a Codex login (`codex login`"},
		{NewBox("codexbad").Prompt("x").LLM(LLM{Provider: "codex"}), ErrInvalid, "unreadable Codex login: " + badCodex + ": not a JSON object"},
		{NewBox("codex").Prompt("x").Runtime(RuntimeCodex).LLM(LLM{APIKeyEnv: "VOIDBOX_CODEX_TEST_KEY"}), ErrMissingDependency, "voidbox image build codex"},
		{NewBox("personal").Prompt("x").LLM(LLM{Provider: "claude-personal"}), ErrInvalid, "unreadable Claude Code credentials: " + creds + ": not a JSON object"},
	}
	for _, c := range cases {
		if c.box.Name() == "codexbad" {
			os.WriteFile(badCodex, []byte(`{"tokens": {"access_token": "eyJ`), 0o600)
		}
		_, err := NewPipeline("p").Pipe(c.box).Run(context.Background(), RunOptions{Host: host})
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.box.Name()) {
			t.Errorf("%s: got %v", c.box.Name(), err)
		}
	}
}

func TestAgentBoxValidation(t *testing.T) {
	for _, c := range []struct {
		box  *Box
		want string
	}{
		{NewBox("a").Prompt("x").LLM(LLM{Provider: "lm-studio"}), "lm-studio"},
		{NewBox("b").Prompt("x").Runtime("gemini"), `runtime "gemini"`},
		{NewBox("b2").Prompt("x").Runtime(RuntimeCodex).LLM(LLM{Provider: "claude"}), "runtime codex speaks OpenAI's Responses API"},
		{NewBox("b3").Prompt("x").Runtime(RuntimeClaudeCode).LLM(LLM{Provider: "codex"}), "provider codex runs the Codex CLI"},
		{NewBox("b4").Prompt("x").LLM(LLM{Provider: "codex"}).AllowCommands("ls"), "runtime codex cannot enforce them"},
		{NewBox("c").Prompt("x").Env("ANTHROPIC_API_KEY", "sk"), "keys stay on the host"},
		{NewBox("c2").Prompt("x").LLM(LLM{Provider: "claude-personal"}).Env("CLAUDE_CODE_OAUTH_TOKEN", ""), "the Claude login stays on the host"},
		{NewBox("d").Prompt("x").Skill(SkillMCP("m", MCPServer{})), "exactly one of a command or a URL"},
		{NewBox("e").Exec("true").Skill(SkillCLI("jq")), "box without a prompt"},
	} {
		_, err := NewPipeline("p").Pipe(c.box).Plan()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v", c.box.Name(), err)
		}
	}
}
