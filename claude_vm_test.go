package voidbox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestClaudeCodeStageVM runs the real Claude Code CLI inside a VM against the
// fake Anthropic API through the host gateway: its Bash tool call runs in the
// guest, its stream is parsed into the same events as the built-in agent, and
// the provider sees only the host's key. Slow: the CLI is a 400 MB binary
// paged in over 9p under TCG.
func TestClaudeCodeStageVM(t *testing.T) {
	vmtest.ClaudeImage(t)
	srv := llmtest.NewAnthropic(t,
		llmtest.ToolCall("Bash", map[string]any{"command": "echo hi-from-claude-code > /workspace/output.json", "description": "write the output"}),
		llmtest.Text("done"),
	)
	t.Setenv("VOIDBOX_TEST_KEY", "sk-claude-test")
	box := voidbox.NewBox("claude").Prompt("write hi to the output file").Runtime(voidbox.RuntimeClaudeCode).
		LLM(voidbox.LLM{Provider: "claude", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_TEST_KEY", Model: "claude-sonnet-4-5"})
	rec := &recorder{}
	rep, err := voidbox.NewPipeline("claude").Pipe(box).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t), Events: rec})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	if strings.TrimSpace(string(rep.Output)) != "hi-from-claude-code" {
		t.Fatalf("output %q", rep.Output)
	}
	d := rep.Stages[0].Detail.(*voidbox.StageDetail).Agent
	if d.Runtime != voidbox.RuntimeClaudeCode || d.ToolCallCount != 1 || d.ToolCalls[0].Name != "Bash" || d.InputTokens == 0 {
		t.Fatalf("agent detail %+v", d)
	}
	if rec.count("agent.tool_call") != 1 || rec.count("agent.finished") != 1 {
		t.Fatalf("events: %d tool calls, %d finished", rec.count("agent.tool_call"), rec.count("agent.finished"))
	}
	for _, r := range srv.Requests() {
		if r.Auth != "sk-claude-test" {
			t.Fatalf("the provider saw credential %q", r.Auth)
		}
	}
}
