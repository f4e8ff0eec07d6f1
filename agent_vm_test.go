package voidbox_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// recorder collects a run's events.
type recorder struct {
	mu     sync.Mutex
	events []voidbox.Event
}

func (r *recorder) Emit(e voidbox.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// of returns the events of one type from one stage.
func (r *recorder) of(stage, typ string) []voidbox.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []voidbox.Event
	for _, e := range r.events {
		if e.Stage == stage && string(e.Type()) == typ {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if string(e.Type()) == typ {
			n++
		}
	}
	return n
}

// TestAgentStageVM: a built-in agent box asks the (fake) model, runs the tool
// call it gets in its VM, and its output file feeds the report; the host
// gateway counts the tokens.
func TestAgentStageVM(t *testing.T) {
	srv := llmtest.NewAnthropic(t,
		llmtest.ToolCall("bash", map[string]any{"command": `echo "{\"greeting\": \"hi from $(uname -r)\"}" > /workspace/output.json`}),
		llmtest.Text("done"),
	)
	t.Setenv("VOIDBOX_TEST_KEY", "sk-test-key")
	box := voidbox.NewBox("greeter").Prompt("write a greeting").
		LLM(voidbox.LLM{Provider: "claude", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_TEST_KEY", Model: "claude-sonnet-4-5"})
	rec := &recorder{}
	rep, err := voidbox.NewPipeline("agent").Pipe(box).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t), Events: rec})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	if !strings.Contains(string(rep.Output), `"greeting": "hi from 6.`) {
		t.Fatalf("output %q", rep.Output)
	}
	d := rep.Stages[0].Detail.(*voidbox.StageDetail).Agent
	if d.Turns != 2 || d.ToolCallCount != 1 || len(d.ToolCalls) != 1 || d.ToolCalls[0].Name != "bash" || d.Requests != 2 || d.InputTokens == 0 || d.OutputTokens == 0 || d.FinalText != "done" {
		t.Fatalf("agent detail %+v", d)
	}
	if rec.count("agent.turn") != 2 || rec.count("agent.tool_call") != 1 || rec.count("llm.request") != 2 {
		t.Fatalf("events: turns %d tool calls %d llm requests %d", rec.count("agent.turn"), rec.count("agent.tool_call"), rec.count("llm.request"))
	}
	for _, a := range srv.AuthSeen() {
		if a != "sk-test-key" {
			t.Fatalf("provider saw credential %q", a)
		}
	}
}

// TestKeyIsolationVM is the key-isolation test: the host holds a canary key;
// the agent, scripted by the fake model, dumps its environment, every
// process's environ and searches the guest filesystem for the canary, and
// reports back. The canary must appear nowhere the guest can see, while the
// provider must have received it. The report ends with its own length, so a
// report cut by the bash tool's output cap (which keeps the head and the
// tail) cannot pass for a complete one.
func TestKeyIsolationVM(t *testing.T) {
	const canary = "sk-ant-canary-7f3c9e1d4b2a"
	// The search pattern is assembled at run time so that no command line in
	// the guest contains the canary itself (only its first half).
	search := `p=sk-ant-canary-; p="${p}7f3c9e1d4b2a"; out=$({ ` +
		`echo "== env"; env; ` +
		`echo "== environ"; for f in /proc/[0-9]*/environ; do tr '\0' '\n' < $f 2>/dev/null; done; ` +
		`echo "== files"; grep -rl "$p" / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; ` +
		`echo "== procs"; grep -l "$p" /proc/[0-9]*/environ 2>/dev/null; } 2>&1); ` +
		`printf '%s\n' "$out"; echo "== end ${#out}"`
	var reported string
	srv := llmtest.NewAnthropic(t,
		llmtest.ToolCall("bash", map[string]any{"command": search}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			if res := r.ToolResults(); len(res) > 0 {
				reported = res[0].Content
			}
			return llmtest.Text("reported")
		}),
	)
	t.Setenv("ANTHROPIC_API_KEY", canary)
	box := voidbox.NewBox("snoop").Prompt("find the key").LLM(voidbox.LLM{Provider: "claude", BaseURL: srv.URL})
	rep, err := voidbox.NewPipeline("isolation").Pipe(box).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t)})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	body, length := probeReport(reported)
	if utf8.RuneCountInString(body) != length || strings.Contains(reported, "bytes omitted") {
		t.Fatalf("the guest's report is incomplete: %d characters of the %d it wrote:\n%s", utf8.RuneCountInString(body), length, reported)
	}
	for _, want := range []string{"== env\n", "PATH=", "\n== environ\n", "\n== files\n", "\n== procs"} {
		if !strings.Contains(body, want) {
			t.Fatalf("the guest's report lacks %q: %q", want, reported)
		}
	}
	if strings.Contains(reported, canary) || strings.Contains(string(rep.Output), canary) {
		t.Fatalf("the canary key is visible in the guest:\n%s", reported)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if r.Auth != canary {
			t.Fatalf("the provider did not receive the real key: %q", r.Auth)
		}
	}
	b, _ := json.Marshal(rep)
	if strings.Contains(string(b), canary) {
		t.Fatal("the canary leaked into the report")
	}
}

// probeReport splits a probe's output at its last "== end N" line into what
// came before it and N (-1 when there is no such line).
func probeReport(out string) (string, int) {
	i := strings.LastIndex(out, "\n== end ")
	if i < 0 {
		return out, -1
	}
	line, _, _ := strings.Cut(out[i+len("\n== end "):], "\n")
	n, err := strconv.Atoi(line)
	if err != nil {
		return out, -1
	}
	return out[:i], n
}

// TestAgentFailureModesVM runs four agent boxes side by side (one fan-out,
// each in its own VM) and checks how each ends: a provider error fails the
// stage with the provider's status and message; max_turns fails it saying
// so; a command the allowlist refuses is denied to the model while the stage
// goes on; an OpenAI-compatible provider works like Anthropic.
func TestAgentFailureModesVM(t *testing.T) {
	anth := llmtest.NewAnthropic(t,
		llmtest.Func(routeAnthropic), llmtest.Func(routeAnthropic), llmtest.Func(routeAnthropic),
		llmtest.Func(routeAnthropic), llmtest.Func(routeAnthropic), llmtest.Func(routeAnthropic))
	oai := llmtest.NewOpenAI(t, llmtest.ToolCall("bash", map[string]any{"command": "echo openai > /workspace/output.json"}), llmtest.Text("ok"))
	t.Setenv("VOIDBOX_TEST_KEY", "sk-test")
	anthLLM := voidbox.LLM{Provider: "claude", BaseURL: anth.URL, APIKeyEnv: "VOIDBOX_TEST_KEY"}
	rec := &recorder{}
	p := voidbox.NewPipeline("failures").FanOut(
		voidbox.NewBox("provider-error").Prompt("case: provider error").LLM(anthLLM).Memory(256),
		voidbox.NewBox("loops").Prompt("case: loop").LLM(anthLLM).MaxTurns(2).Memory(256),
		voidbox.NewBox("denied").Prompt("case: denied").LLM(anthLLM).AllowCommands("echo").Memory(256),
		voidbox.NewBox("openai").Prompt("write it").LLM(voidbox.LLM{Provider: "openai", BaseURL: oai.URL, APIKeyEnv: "VOIDBOX_TEST_KEY"}).Memory(256),
	).MaxParallel(2)
	rep, err := p.Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t), Events: rec})
	if err == nil || rep == nil {
		t.Fatalf("want a failed run, got %v", err)
	}
	st := map[string]voidbox.StageReport{}
	for _, s := range rep.Stages {
		st[s.Name] = s
	}
	if s := st["provider-error"]; s.Status != voidbox.StatusFailed || !strings.Contains(s.Error, "400") || !strings.Contains(s.Error, "no such model") {
		t.Errorf("provider-error: %s %q", s.Status, s.Error)
	}
	if s := st["loops"]; s.Status != voidbox.StatusFailed || !strings.Contains(s.Error, "max_turns (2) reached") {
		t.Errorf("loops: %s %q", s.Status, s.Error)
	}
	checkDenied(t, st["denied"], rec)
	checkOpenAI(t, st["openai"], oai.Requests())
}

// checkDenied: the denied case's wget was refused by the policy (one
// agent.denied event naming it, the tool call flagged denied) while its echo
// ran, and the model was told both (routeAnthropic's final text says so).
func checkDenied(t *testing.T, s voidbox.StageReport, rec *recorder) {
	t.Helper()
	if s.Status != voidbox.StatusSucceeded {
		t.Errorf("denied: %s %q", s.Status, s.Error)
		return
	}
	if ev := rec.of("denied", "agent.denied"); len(ev) != 1 || ev[0].Data.(voidbox.EventAgentDenied).Command != "wget http://example.com" || ev[0].Data.(voidbox.EventAgentDenied).Reason == "" {
		t.Errorf("denied: agent.denied events %+v, want one for wget with a reason", ev)
	}
	if ev := rec.of("denied", "agent.tool_call"); len(ev) != 1 || !ev[0].Data.(voidbox.EventAgentToolCall).Denied {
		t.Errorf("denied: agent.tool_call events %+v, want one flagged denied", ev)
	}
	d := s.Detail.(*voidbox.StageDetail).Agent
	if d.Denied != 1 || len(d.ToolCalls) != 1 || !d.ToolCalls[0].Denied || d.ToolCalls[0].Name != "bash" {
		t.Errorf("denied: agent detail denied %d, tool calls %+v", d.Denied, d.ToolCalls)
	}
	if d.FinalText != "understood: wget is not allowed" {
		t.Errorf("denied: the model did not see the echo output and the denial: final text %q", d.FinalText)
	}
}

// checkOpenAI: the OpenAI-compatible case spoke Chat Completions as the
// fake validates it, offered the bash tool, answered the tool call with a
// tool message carrying its id, and its command's file is the stage output.
func checkOpenAI(t *testing.T, s voidbox.StageReport, reqs []llmtest.Request) {
	t.Helper()
	if s.Status != voidbox.StatusSucceeded || string(s.Output) != "openai\n" {
		t.Errorf("openai: %s %q, output %q", s.Status, s.Error, s.Output)
	}
	if len(reqs) != 2 {
		t.Fatalf("openai: %d requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if r.Method != "POST" || r.Path != "/v1/chat/completions" || r.Status != 200 || r.Invalid != "" ||
			r.Auth != "sk-test" || r.Model == "" || !slices.Contains(r.ToolNames(), "bash") {
			t.Errorf("openai: request %d: %s %s status %d invalid %q auth %q model %q tools %v",
				r.N, r.Method, r.Path, r.Status, r.Invalid, r.Auth, r.Model, r.ToolNames())
		}
	}
	if !strings.Contains(reqs[0].LastUserText(), "write it") {
		t.Errorf("openai: first request's user message %q lacks the prompt", reqs[0].LastUserText())
	}
	msgs, res := reqs[1].Messages(), reqs[1].ToolResults()
	var callID string
	for _, m := range msgs {
		if calls, _ := m["tool_calls"].([]any); m["role"] == "assistant" && len(calls) == 1 {
			callID, _ = calls[0].(map[string]any)["id"].(string)
		}
	}
	if len(res) != 1 || callID == "" || res[0].ID != callID {
		t.Errorf("openai: second request answers tool call %q with tool results %+v", callID, res)
	}
}

// routeAnthropic answers each case of TestAgentFailureModesVM by its prompt.
func routeAnthropic(r *llmtest.Request) llmtest.Turn {
	first := ""
	if msgs := r.Messages(); len(msgs) > 0 {
		b, _ := json.Marshal(msgs[0])
		first = string(b)
	}
	switch {
	case strings.Contains(first, "case: provider error"):
		return llmtest.Error(400, "invalid_request_error", "no such model")
	case strings.Contains(first, "case: loop"):
		return llmtest.ToolCall("bash", map[string]any{"command": "echo again"})
	case strings.Contains(first, "case: denied") && len(r.ToolResults()) == 0:
		return llmtest.ToolCall("bash", map[string]any{"command": "echo allowed; wget http://example.com"})
	case strings.Contains(first, "case: denied"):
		if c := r.ToolResults()[0].Content; !strings.HasPrefix(c, "allowed\n") || !strings.Contains(c, "[denied by policy: wget ") {
			return llmtest.Text("unexpected tool result: " + r.ToolResults()[0].Content)
		}
		return llmtest.Text("understood: wget is not allowed")
	}
	return llmtest.Text("unrouted request")
}
