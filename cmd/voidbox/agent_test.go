package main_test

import (
	"fmt"
	"github.com/voidbox/voidbox/internal/vmtest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// TestAgentPipelineE2E: a spec with a fan-out of two agent boxes and a
// merging agent, run from the CLI against a fake Anthropic API. Branch A's
// model calls the tool of an MCP stdio server started inside its VM (a Go
// server shipped as a skill script); the merging agent sees both branch
// outputs in declaration order.
func TestAgentPipelineE2E(t *testing.T) {
	vmtest.Setup(t)
	dir := t.TempDir()
	skill := filepath.Join(dir, "skills", "calc")
	os.MkdirAll(filepath.Join(skill, "scripts"), 0o755)
	os.WriteFile(filepath.Join(skill, "SKILL.md"), []byte("---\nname: calc\ndescription: An adding machine (MCP server in scripts/).\n---\nUse calc__add.\n"), 0o644)
	build := exec.Command("go", "build", "-o", filepath.Join(skill, "scripts", "mcp-server"), "./testdata/mcpserver")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the MCP server: %v\n%s", err, out)
	}

	var mu sync.Mutex
	var mergeSaw string
	dispatch := func(r *llmtest.Request) llmtest.Turn {
		text := r.LastUserText()
		switch {
		case strings.Contains(text, "branch A") && len(r.ToolResults()) == 0:
			if !contains(r.ToolNames(), "calc__add") {
				return llmtest.Text("no calc__add tool offered: " + strings.Join(r.ToolNames(), ","))
			}
			return llmtest.ToolCall("calc__add", map[string]any{"a": 2, "b": 3})
		case len(r.ToolResults()) > 0:
			return llmtest.Text("A says " + r.ToolResults()[0].Content)
		case strings.Contains(text, "branch B"):
			return llmtest.Text("B done")
		default:
			mu.Lock()
			mergeSaw = text
			mu.Unlock()
			return llmtest.Text("merged")
		}
	}
	srv := llmtest.NewAnthropic(t, llmtest.Func(dispatch), llmtest.Func(dispatch), llmtest.Func(dispatch), llmtest.Func(dispatch))
	spec := filepath.Join(dir, "agents.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(`api_version: v1
kind: pipeline
name: agents
sandbox: {memory_mb: 512}
llm: {provider: claude, base_url: %q, api_key_env: VOIDBOX_E2E_KEY, model: claude-sonnet-4-5}
pipeline:
  boxes:
    - name: a
      prompt: "branch A: add two and three"
      skills:
        - file:skills/calc/SKILL.md
        - {name: calc, command: /workspace/.voidbox/skills/calc/scripts/mcp-server}
    - name: b
      prompt: "branch B: say done"
    - name: merge
      prompt: "merge the branch outputs"
  stages:
    - fan_out: [a, b]
    - box: merge
`, srv.URL)), 0o644)
	t.Setenv("VOIDBOX_E2E_KEY", "sk-e2e")
	r := voidbox(t, "", "run", "--file", spec, "--progress", "plain")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	ia, ib := strings.Index(mergeSaw, "A says 2+3=5"), strings.Index(mergeSaw, "B done")
	if ia < 0 || ib < 0 || ia > ib {
		t.Fatalf("the merging agent saw %q; want A's then B's output", mergeSaw)
	}
	if !strings.Contains(r.stdout, "merged") {
		t.Fatalf("run output: %s", r.stdout)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
