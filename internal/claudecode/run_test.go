package claudecode

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// These tests run the real claude-code binary from the real flavour, the
// way the guest will, against the llmtest fake Anthropic API.

func TestRealRunBashToolAndSkill(t *testing.T) {
	im := realImage(t)
	skill := "---\nname: csv-stats\ndescription: Compute column statistics of CSV files with awk.\n---\nUse awk -F, to sum columns.\n"
	fake := llmtest.NewAnthropic(t,
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			if !slices.Contains(r.ToolNames(), "Bash") {
				t.Errorf("tools offered: %v", r.ToolNames())
			}
			if !bytes.Contains(r.Body, []byte("csv-stats: Compute column statistics")) {
				t.Errorf("the skill is not in the request")
			}
			if !bytes.Contains(r.Body, []byte("Write your output to /workspace/output.json.")) {
				t.Errorf("the appended system prompt is not in the request")
			}
			if !strings.Contains(r.LastUserText(), "--not-a-flag: summarise in.txt") {
				t.Errorf("prompt not delivered: %.300q", r.LastUserText())
			}
			return llmtest.ToolCall("Bash", map[string]any{
				"command":     `test -d /proc/self && echo "shell=$0 uid=$(id -u) pwd=$(pwd)" && cat /workspace/in.txt`,
				"description": "read the input",
			}).WithUsage(1000, 20)
		}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			res := r.ToolResults()
			if len(res) != 1 || res[0].IsError ||
				!strings.Contains(res[0].Content, "shell=/opt/voidbox/claude-code/bin/bash uid=1000 pwd=/workspace") ||
				!strings.Contains(res[0].Content, "input-from-workspace") {
				t.Errorf("tool results: %+v", res)
			}
			return llmtest.Text("done: the input says hello").WithUsage(1200, 7)
		}),
	)
	r := runReal(t, im, fake.URL, Config{
		Prompt: "--not-a-flag: summarise in.txt", Model: "claude-sonnet-4-5", MaxTurns: 5,
		AppendSystemPrompt: "Write your output to /workspace/output.json.",
	}, func(root string) {
		p, err := SkillPath(GuestHome, "csv-stats")
		if err != nil {
			t.Fatal(err)
		}
		writeOwned(t, root, p, skill)
		writeOwned(t, root, "/workspace/in.txt", "input-from-workspace\n")
	})
	if r.err != nil {
		t.Fatalf("claude-code: %v", r.err)
	}
	checkOnlyBaseURL(t, r, 2)
	saveTranscript(t, "bash_tool", r.stdout)

	want := []string{string(event.TypeAgentStarted), string(event.TypeAgentTurn), string(event.TypeAgentToolCall), string(event.TypeAgentTurn), string(event.TypeAgentFinished)}
	if got := types(r.events); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	st := r.events[0].(event.AgentStarted)
	if st.Model != "claude-sonnet-4-5" || !slices.Contains(st.Tools, "Bash") {
		t.Errorf("started %+v", st)
	}
	if tu := r.events[1].(event.AgentTurn); tu.Turn != 1 || tu.InputTokens != 1000 || tu.StopReason != "tool_use" {
		t.Errorf("turn 1 %+v", tu)
	}
	tc := r.events[2].(event.AgentToolCall)
	if tc.Turn != 1 || tc.Name != "Bash" || tc.Error != "" || tc.ExitCode == nil || *tc.ExitCode != 0 {
		t.Errorf("tool call %+v", tc)
	}
	if tu := r.events[3].(event.AgentTurn); tu.Turn != 2 || tu.InputTokens != 1200 || tu.StopReason != "end_turn" {
		t.Errorf("turn 2 %+v", tu)
	}
	fin := r.events[4].(event.AgentFinished)
	if fin.Turns != 2 || fin.ToolCalls != 1 || fin.InputTokens != 2200 || fin.OutputTokens != 27 ||
		fin.FinalText != "done: the input says hello" || fin.Error != "" {
		t.Errorf("finished %+v", fin)
	}
	res := r.res
	if !res.GotResult || res.Subtype != "success" || res.CostUSD <= 0 || res.Version != DefaultVersion ||
		!slices.Contains(res.Skills, "csv-stats") || res.Malformed != 0 || res.APIRetries != 0 {
		t.Errorf("result %+v", res)
	}
	t.Logf("system messages moved by the gateway: %d", r.moved)
}

func TestRealRunMaxTurns(t *testing.T) {
	im := realImage(t)
	fake := llmtest.NewAnthropic(t,
		llmtest.ToolCall("Bash", map[string]any{"command": "echo failing >&2; exit 3", "description": "fail"}).WithUsage(500, 10),
	)
	r := runReal(t, im, fake.URL, Config{Prompt: "fail once", MaxTurns: 1}, nil)
	if r.err == nil {
		t.Errorf("claude-code exited 0 after reaching max turns")
	}
	checkOnlyBaseURL(t, r, 1)
	t.Logf("betas: %v", r.reqs)
	saveTranscript(t, "max_turns", r.stdout)
	want := []string{string(event.TypeAgentStarted), string(event.TypeAgentTurn), string(event.TypeAgentToolCall), string(event.TypeAgentFinished)}
	if got := types(r.events); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	tc := r.events[2].(event.AgentToolCall)
	if tc.ExitCode == nil || *tc.ExitCode != 3 || !strings.Contains(tc.Error, "failing") {
		t.Errorf("tool call %+v", tc)
	}
	fin := r.events[3].(event.AgentFinished)
	if fin.Turns != 1 || fin.ToolCalls != 1 || !strings.Contains(fin.Error, "max_turns") || fin.FinalText != "" {
		t.Errorf("finished %+v", fin)
	}
	if r.res.Subtype != "error_max_turns" || r.res.TerminalReason != "max_turns" {
		t.Errorf("result %+v", r.res)
	}
}

func TestRealRunAPIError(t *testing.T) {
	im := realImage(t)
	fake := llmtest.NewAnthropic(t,
		llmtest.Error(401, "authentication_error", "invalid x-api-key"),
		llmtest.Error(401, "authentication_error", "invalid x-api-key"),
	)
	r := runReal(t, im, fake.URL, Config{Prompt: "hello", MaxRetries: 1}, nil)
	if r.err == nil {
		t.Errorf("claude-code exited 0 after an API error")
	}
	checkOnlyBaseURL(t, r, 2)
	saveTranscript(t, "api_error", r.stdout)
	want := []string{string(event.TypeAgentStarted), string(event.TypeAgentFinished)}
	if got := types(r.events); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v (the synthetic error message is no turn)", got, want)
	}
	fin := r.events[1].(event.AgentFinished)
	if fin.Turns != 0 || !strings.Contains(fin.Error, "api_error (HTTP 401)") {
		t.Errorf("finished %+v", fin)
	}
	if r.res.APIRetries != 1 || r.res.APIErrorStatus != 401 {
		t.Errorf("result %+v", r.res)
	}
}

func TestRealRunLongPromptOnStdin(t *testing.T) {
	im := realImage(t)
	prompt := "MARKER-START " + strings.Repeat("lorem ipsum ", 150<<10/12) + " MARKER-END"
	cfg := Config{Prompt: prompt}
	if argv, _ := Command(cfg); slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, "MARKER") }) {
		t.Fatalf("a %d-byte prompt went into argv", len(prompt))
	}
	fake := llmtest.NewAnthropic(t, llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
		if u := r.LastUserText(); !strings.Contains(u, "MARKER-START") || !strings.Contains(u, "MARKER-END") {
			t.Errorf("the stdin prompt did not arrive whole (%d bytes)", len(u))
		}
		return llmtest.Text("read it")
	}))
	r := runReal(t, im, fake.URL, cfg, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	checkOnlyBaseURL(t, r, 1)
	if r.res.Finished.FinalText != "read it" {
		t.Errorf("finished %+v", r.res.Finished)
	}
}

func types(events []event.Data) []string {
	var out []string
	for _, ev := range events {
		out = append(out, string(ev.EventType()))
	}
	return out
}

// writeOwned writes a file at guest path p in root, owned by uid 1000 like
// everything the sandbox user gets.
func writeOwned(t *testing.T, root, p, content string) {
	t.Helper()
	host := filepath.Join(root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(host, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for d := host; strings.HasPrefix(d, root+"/home/") || strings.HasPrefix(d, root+"/workspace/") || strings.HasPrefix(d, root+"/tmp/"); d = filepath.Dir(d) {
		if err := os.Chown(d, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
}
