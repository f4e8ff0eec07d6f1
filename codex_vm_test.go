package voidbox_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestCodexStageVM runs the real Codex CLI (0.171.0) inside a VM against the
// fake Responses API through the host gateway. Its exec_command tool call
// runs in the guest, writes the output file and probes for the host key:
// the guest's environment, every process's environ and command line, and
// its files. The stream is parsed into agent events and the report; the
// provider sees only the host key. Slow: a 315 MB binary paged in over 9p
// under TCG.
func TestCodexStageVM(t *testing.T) {
	vmtest.CodexImage(t)
	const mark = "zq8canary" // the probe assembles it at run time, so its own command line holds none
	hostKey := "sk-proj-" + mark + "-codex-host-key"
	t.Setenv("VOIDBOX_TEST_OPENAI_KEY", hostKey)
	// The pattern goes to a file: a grep given it as an argument would find
	// it in its own /proc/PID/cmdline.
	probe := `echo hi-from-codex > /workspace/output.json; p=zq8; printf '%s' "${p}canary" > /tmp/pat; ` +
		`{ env; for f in /proc/[0-9]*/environ; do tr '\0' '\n' < $f; echo; done; } > /tmp/envdump 2>/dev/null; ` +
		`echo "probe env_lines=$(wc -l < /tmp/envdump) path_seen=$(grep -c '^PATH=' /tmp/envdump)` +
		` env_hits=$(grep -c -F -f /tmp/pat /tmp/envdump)` +
		` proc_hits=$(grep -l -F -f /tmp/pat /proc/[0-9]*/cmdline 2>/dev/null | wc -l)` +
		// /opt/voidbox/codex is the host-built flavour (315 MB over 9p): skipped for time.
		` file_hits=$(grep -rl -F -f /tmp/pat / --exclude-dir=proc --exclude-dir=sys --exclude-dir=opt 2>/dev/null | grep -v -x /tmp/pat | wc -l)` +
		// Codex's own process holds the placeholder: proof the probe read its environ.
		` placeholder_hits=$(grep -c sk-voidbox-placeholder /tmp/envdump) end"`
	var reported string
	srv := llmtest.NewResponses(t,
		llmtest.Reply("Writing the file.", llmtest.Call{Name: "exec_command", Input: map[string]any{"cmd": probe}}).WithUsage(1000, 40),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			if res := r.ToolResults(); len(res) == 1 {
				reported = res[0].Content
			}
			return llmtest.Text("done").WithUsage(1200, 5).WithCache(200, 0)
		}),
	)
	srv.RequireKey(hostKey)
	box := voidbox.NewBox("codex").Prompt("write hi to the output file").Runtime(voidbox.RuntimeCodex).
		LLM(voidbox.LLM{Provider: "openai", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_TEST_OPENAI_KEY"})
	rec := &recorder{}
	rep, err := voidbox.NewPipeline("codex").Pipe(box).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t), Events: rec})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	if strings.TrimSpace(string(rep.Output)) != "hi-from-codex" {
		t.Fatalf("output %q", rep.Output)
	}
	m := regexp.MustCompile(`probe env_lines=(\d+) path_seen=(\d+) env_hits=(\d+) proc_hits=(\d+) file_hits=(\d+) placeholder_hits=(\d+) end`).FindStringSubmatch(reported)
	if m == nil {
		t.Fatalf("the probe did not report:\n%s", reported)
	}
	if m[1] == "0" || m[2] == "0" {
		t.Fatalf("the probe read no environment: %s", m[0])
	}
	if m[3] != "0" || m[4] != "0" || m[5] != "0" || strings.Contains(reported, mark) {
		t.Fatalf("the host key is visible in the guest: %s", m[0])
	}
	if m[6] == "0" {
		t.Errorf("the probe did not see codex's placeholder key: %s", m[0])
	}
	for _, r := range srv.Requests() {
		if r.Auth != hostKey || r.Path != "/v1/responses" {
			t.Fatalf("the provider saw %s with credential %q", r.Path, r.Auth)
		}
	}
	d := rep.Stages[0].Detail.(*voidbox.StageDetail).Agent
	if d.Runtime != voidbox.RuntimeCodex || d.Model != "gpt-5-codex" || d.Turns != 2 || d.ToolCallCount != 1 ||
		d.ToolCalls[0].Name != "shell" || d.ToolCalls[0].ExitCode == nil || *d.ToolCalls[0].ExitCode != 0 {
		t.Fatalf("agent detail %+v", d)
	}
	// The gateway's own count: both requests, cached tokens split out.
	if d.Requests != 2 || d.InputTokens != 2200 || d.OutputTokens != 45 || d.CostUSD <= 0 {
		t.Fatalf("gateway accounting: %d requests, %d in, %d out, $%v", d.Requests, d.InputTokens, d.OutputTokens, d.CostUSD)
	}
	if rec.count("agent.started") != 1 || rec.count("agent.turn") != 2 || rec.count("agent.tool_call") != 1 ||
		rec.count("agent.finished") != 1 || rec.count("llm.request") != 2 {
		t.Fatalf("events: %d started, %d turns, %d tool calls, %d finished, %d llm requests", rec.count("agent.started"),
			rec.count("agent.turn"), rec.count("agent.tool_call"), rec.count("agent.finished"), rec.count("llm.request"))
	}
	if b, _ := json.Marshal(rep); strings.Contains(string(b), mark) {
		t.Fatal("the host key leaked into the report")
	}
}
