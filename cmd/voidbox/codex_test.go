package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestCodexSpecE2E: a seed-shaped spec (provider: codex, agent:codex, a
// file: skill) run from the CLI: the real Codex CLI in the VM finds the
// skill where Codex looks for skills, runs the fake model's command, and
// the stage's output file is the run's output.
func TestCodexSpecE2E(t *testing.T) {
	vmtest.CodexImage(t)
	dir := t.TempDir()
	skill := filepath.Join(dir, "skills", "tally")
	os.MkdirAll(skill, 0o755)
	os.WriteFile(filepath.Join(skill, "SKILL.md"), []byte("---\nname: tally\ndescription: Counts things (voidbox e2e marker 7c1f).\n---\nCount.\n"), 0o644)
	var sawSkill bool
	srv := llmtest.NewResponses(t,
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			sawSkill = strings.Contains(string(r.Body), "voidbox e2e marker 7c1f")
			return llmtest.ToolCall("exec_command", map[string]any{"cmd": "echo codex-cli-ok > /workspace/output.json"})
		}),
		llmtest.Text("written"),
	)
	srv.RequireKey("sk-e2e-codex")
	spec := filepath.Join(dir, "codex.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(`api_version: v1
kind: agent
name: codex-e2e
llm: {provider: codex, base_url: %q, api_key_env: VOIDBOX_E2E_CODEX_KEY}
agent:
  prompt: write the marker
  skills:
    - agent:codex
    - file:skills/tally/SKILL.md
`, srv.URL)), 0o644)
	t.Setenv("VOIDBOX_E2E_CODEX_KEY", "sk-e2e-codex")
	r := voidbox(t, "", "run", "--file", spec, "--progress", "plain")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "codex-cli-ok") {
		t.Fatalf("run output: %s", r.stdout)
	}
	if !sawSkill {
		t.Error("Codex did not offer the file: skill to the model")
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d model requests, want 2", n)
	}
}
