package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestInteractiveAgentE2E: voidbox shell --file on an interactive agent
// spec boots its VM with its skill, prompt and gateway, and attaches the
// terminal to the real Claude Code's interactive session: the prompt is
// sent as its first message through the host gateway (with the host's key;
// the guest holds a placeholder), the fake model's answer shows on the
// screen, and leaving Claude Code ends voidbox with status 0 and no QEMU.
func TestInteractiveAgentE2E(t *testing.T) {
	vmtest.ClaudeImage(t)
	var turns []llmtest.Turn
	for range 20 { // a session makes side requests besides the conversation
		turns = append(turns, llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			return llmtest.Text("the magic word is xyzzy-from-the-fake")
		}))
	}
	srv := llmtest.NewAnthropic(t, turns...)
	rt := t.TempDir()
	spec := filepath.Join(t.TempDir(), "session.yaml")
	if err := os.WriteFile(spec, []byte(fmt.Sprintf(`api_version: v1
kind: agent
name: session
llm:
  provider: claude
  base_url: %s
  api_key_env: VOIDBOX_E2E_KEY
  model: claude-sonnet-4-5
agent:
  mode: interactive
  runtime: claude-code
  prompt: tell me the magic word
  skills:
    - name: magic-words
      content: "# Magic words\nAsk the model."
`, srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := newTerm(t, 100, 30, rt, "VOIDBOX_E2E_KEY=sk-e2e-host-key "+shellQuote(bin, "shell", "--file", spec))
	tm.waitText("xyzzy-from-the-fake", 5*time.Minute)
	var prompted, skilled bool
	for _, r := range srv.Requests() {
		if r.Auth != "sk-e2e-host-key" {
			t.Errorf("the provider saw credential %q", r.Auth)
		}
		prompted = prompted || strings.Contains(r.LastUserText(), "tell me the magic word")
		skilled = skilled || strings.Contains(string(r.Body), "magic-words")
	}
	if !prompted || !skilled {
		t.Errorf("no request with the prompt (%v) or the skill (%v) among %d", prompted, skilled, len(srv.Requests()))
	}
	if len(qemuPIDs(t, rt)) != 1 {
		t.Errorf("the session's VM is not running")
	}
	tm.keys("/exit")
	time.Sleep(time.Second) // the command menu opens on "/"
	tm.keys("Enter")
	if code := tm.exited(2 * time.Minute); code != 0 {
		t.Errorf("exit status %d; screen:\n%s", code, strings.Join(tm.screen(), "\n"))
	}
	if left := qemuPIDs(t, rt); len(left) > 0 {
		t.Errorf("qemu still running: %v", left)
	}
}

// TestInteractiveRefusedE2E: an interactive spec validates, voidbox run
// points at voidbox shell --file, and shell --file needs a terminal.
func TestInteractiveRefusedE2E(t *testing.T) {
	const file = "../../examples/seed/pair-session.yaml"
	if r := voidbox(t, "", "validate", "--file", file); r.code != 0 {
		t.Errorf("validate: %d %s", r.code, r.stderr)
	}
	if r := voidbox(t, "", "run", "--file", file); r.code != 2 || !strings.Contains(r.stderr, "agent.mode is interactive, a session on your terminal: open it with voidbox shell --file "+file) {
		t.Errorf("run: %d %q", r.code, r.stderr)
	}
	if r := voidbox(t, "", "shell", "--file", file); r.code != 2 || !strings.Contains(r.stderr, "a terminal is needed") {
		t.Errorf("shell without a terminal: %d %q", r.code, r.stderr)
	}
}
