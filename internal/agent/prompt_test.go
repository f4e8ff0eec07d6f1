package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/agent"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

func TestPromptCarriesInputAndSkills(t *testing.T) {
	srv := llmtest.NewOpenAI(t, llmtest.Text("ok"))
	cfg := baseConfig(t, agent.ProviderOpenAI, srv)
	cfg.Prompt = "Summarise the findings."
	cfg.SystemPrompt = "Answer in French."
	cfg.Skills = []agent.Skill{{Name: "pdf", Description: "Read and\nsplit PDFs.", Path: "/skills/pdf/SKILL.md"}}
	if err := os.WriteFile(filepath.Join(cfg.Workspace, "input.json"), []byte(`{"findings":["a","b"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if o := runMain(t, cfg); o.code != 0 {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
	user := srv.Requests()[0].LastUserText()
	mustContain(t, "user message", user, "Summarise the findings.", `{"findings":["a","b"]}`, filepath.Join(cfg.Workspace, "input.json"))
	mustContain(t, "system prompt", systemOf(srv),
		cfg.Workspace, "- pdf: Read and split PDFs. (/skills/pdf/SKILL.md)", "Answer in French.",
		filepath.Join(cfg.Workspace, "output.json"), "bash, read_file")
}

func TestLargeOrBinaryInputIsPointedTo(t *testing.T) {
	for name, data := range map[string][]byte{
		"large":  []byte(strings.Repeat("x", agent.InlineInputLimit+1)),
		"binary": {0xff, 0xfe, 0x00},
	} {
		t.Run(name, func(t *testing.T) {
			srv := llmtest.NewAnthropic(t, llmtest.Text("ok"))
			cfg := baseConfig(t, agent.ProviderAnthropic, srv)
			if err := os.WriteFile(filepath.Join(cfg.Workspace, "input.json"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if o := runMain(t, cfg); o.code != 0 {
				t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
			}
			user := srv.Requests()[0].LastUserText()
			mustContain(t, "user message", user, "read it with read_file")
			if strings.Contains(user, "xxxx") || len(user) > 1000 {
				t.Errorf("input inlined: %d bytes", len(user))
			}
		})
	}
}

func TestNoInputFile(t *testing.T) {
	srv := llmtest.NewAnthropic(t, llmtest.Text("ok"))
	cfg := baseConfig(t, agent.ProviderAnthropic, srv)
	if o := runMain(t, cfg); o.code != 0 {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
	if user := srv.Requests()[0].LastUserText(); user != "Do the task." {
		t.Errorf("user message %q", user)
	}
}
