package stage

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/voidbox/voidbox/internal/agentconfig"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/sandbox/sandboxtest"
	"github.com/voidbox/voidbox/internal/setup"
)

type events struct {
	mu  sync.Mutex
	all []event.Event
}

func (e *events) Emit(ev event.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) types() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		out = append(out, string(ev.Type()))
	}
	return out
}

// TestAgentStageWithoutVM runs an agent stage's host side for real — skill
// installation, the cli skill check, the input file, the root-owned agent
// config, the LLM gateway reached through the guest's tunnelled endpoint,
// the event stream, the output file, the report — against an in-process
// guest whose "voidbox-agent" is a Go function speaking the agent's
// protocol. Only the VM is missing.
func TestAgentStageWithoutVM(t *testing.T) {
	srv := llmtest.NewAnthropic(t, llmtest.Text("the answer is 42"))
	t.Setenv("VOIDBOX_STAGE_TEST_KEY", "sk-stage-test-canary")
	srv.RequireKey("sk-stage-test-canary")
	skillDir := t.TempDir()
	os.MkdirAll(filepath.Join(skillDir, "scripts"), 0o755)
	os.WriteFile(filepath.Join(skillDir, "SKILL.md"), []byte("---\nname: math\n---\nadd"), 0o644)
	os.WriteFile(filepath.Join(skillDir, "scripts", "add.sh"), []byte("echo 3"), 0o755)

	g := sandboxtest.New()
	var sawEnv []string
	g.Handle("sh", func(ctx context.Context, p *sandboxtest.Process) int { // the cli skill check: command -v jq
		if len(p.Args) == 5 && p.Args[4] == "jq" {
			return 0
		}
		return 1
	})
	g.Handle(setup.AgentGuestPath, func(ctx context.Context, p *sandboxtest.Process) int {
		sawEnv = p.Env
		cfgFile := p.Guest.File(agentConfigPath)
		var cfg agentconfig.Config
		if cfgFile == nil || !cfgFile.Root || json.Unmarshal(cfgFile.Data, &cfg) != nil {
			io.WriteString(p.Stderr, "no root-owned agent config\n")
			return 2
		}
		w := event.NewWriter(p.Stdout)
		w.Send(event.AgentStarted{Provider: string(cfg.Provider), Model: cfg.Model, Tools: []string{"bash"}})
		// The model endpoint is the guest loopback address in cfg.BaseURL.
		guestAddr := strings.TrimPrefix(cfg.BaseURL, "http://")
		body := `{"model":"` + cfg.Model + `","max_tokens":64,"messages":[{"role":"user","content":"` + cfg.Prompt + `"}]}`
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+p.Guest.TunnelAddr(guestAddr)+"/v1/messages", strings.NewReader(body))
		req.Header.Set("x-api-key", "voidbox-placeholder-key")
		req.Header.Set("anthropic-version", "2023-06-01")
		req.Header.Set("content-type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			io.WriteString(p.Stderr, err.Error())
			return 1
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(answer), "the answer is 42") {
			io.WriteString(p.Stderr, "model said "+resp.Status+": "+string(answer))
			return 1
		}
		w.Send(event.AgentTurn{Turn: 1, InputTokens: 10, OutputTokens: 5, StopReason: "end_turn"})
		code := 0
		w.Send(event.AgentToolCall{Turn: 1, Name: "bash", DurationMS: 3, ExitCode: &code})
		w.Send(event.AgentDenied{Command: "curl x", Reason: "not allowed"})
		p.Guest.WriteFile(cfg.OutputFile, []byte(`{"answer":42}`))
		w.Send(event.AgentFinished{Turns: 1, ToolCalls: 1, FinalText: "the answer is 42"})
		return 0
	})

	box := &Box{Name: "solver", Agent: &Agent{Prompt: "what is 6x7?",
		LLM: LLM{Provider: "claude", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_STAGE_TEST_KEY", Model: "claude-sonnet-4-5"},
		Skills: []Skill{
			{Kind: SkillFile, Name: "math", Content: "---\nname: math\n---\nadd", HostPath: filepath.Join(skillDir, "SKILL.md")},
			{Kind: SkillCLI, Name: "jq"},
		}}}
	stages := map[string]Staged{"solver": {Box: box, IO: IO{InputFile: true, OutputFile: true}}}
	b := pipeline.NewPipeline("t")
	b.Pipe(box.Node())
	gr, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	rec := &events{}
	rep, err := Run(context.Background(), gr, stages, Host{}, Options{Input: []byte(`[6,7]`), Events: rec, Boot: BootFunc(g.Boot)})
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, rep)
	}
	g.Wait()
	if string(rep.Output) != `{"answer":42}` {
		t.Errorf("output %q", rep.Output)
	}
	d := rep.Stages[0].Detail.(*Detail)
	a := d.Agent
	if a.Turns != 1 || a.ToolCallCount != 1 || a.Denied != 1 || a.Requests != 1 || a.InputTokens == 0 ||
		a.FinalText != "the answer is 42" || a.OutputFile != DefaultOutputFile || d.Kernel != "sandboxtest" {
		t.Errorf("detail %+v agent %+v", d, a)
	}
	for _, f := range []string{"/workspace/.voidbox/skills/math/SKILL.md", "/workspace/.voidbox/skills/math/scripts/add.sh", InputFile} {
		if g.File(f) == nil {
			t.Errorf("%s not in the guest (files %v)", f, g.Files())
		}
	}
	if string(g.File(InputFile).Data) != `[6,7]` {
		t.Errorf("input %q", g.File(InputFile).Data)
	}
	for _, kv := range sawEnv {
		if strings.Contains(kv, "sk-stage-test-canary") {
			t.Errorf("the provider key reached the guest's environment: %s", kv)
		}
	}
	if h := g.Hello(); len(h.Listeners) != 1 || h.Listeners[0].Addr != llmEndpoint {
		t.Errorf("listeners %+v", h.Listeners)
	}
	want := map[string]bool{"vm.booted": true, "agent.started": true, "agent.turn": true, "agent.tool_call": true,
		"agent.denied": true, "agent.finished": true, "llm.request": true}
	for _, typ := range rec.types() {
		delete(want, typ)
	}
	if len(want) != 0 {
		t.Errorf("events missing %v (got %v)", want, rec.types())
	}
}

// TestAgentStageFailsWithStderr: an agent that exits non-zero fails the
// stage with its last stderr line; a missing cli skill fails it before
// the agent starts, permanently.
func TestAgentStageFailsWithStderr(t *testing.T) {
	srv := llmtest.NewAnthropic(t)
	t.Setenv("VOIDBOX_STAGE_TEST_KEY", "k")
	g := sandboxtest.New()
	g.Handle(setup.AgentGuestPath, func(ctx context.Context, p *sandboxtest.Process) int {
		io.WriteString(p.Stderr, "warming up\nagent: provider said no\n")
		return 1
	})
	run := func(box *Box) (*pipeline.Report, error) {
		b := pipeline.NewPipeline("t")
		b.Pipe(box.Node())
		gr, _ := b.Build()
		return Run(context.Background(), gr, map[string]Staged{box.Name: {Box: box}}, Host{}, Options{Boot: BootFunc(g.Boot)})
	}
	llm := LLM{Provider: "claude", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_STAGE_TEST_KEY"}
	rep, err := run(&Box{Name: "a", Agent: &Agent{Prompt: "x", LLM: llm}})
	if err == nil || rep.Stages[0].Error != "agent failed: agent: provider said no" {
		t.Errorf("failed agent: %v, %+v", err, rep.Stages[0])
	}
	rep, err = run(&Box{Name: "b", Retries: 3, Agent: &Agent{Prompt: "x", LLM: llm, Skills: []Skill{{Kind: SkillCLI, Name: "nope"}}}})
	if err == nil || rep.Stages[0].Attempts != 1 || !strings.Contains(rep.Stages[0].Error, `cli skill "nope"`) {
		t.Errorf("missing cli skill: %v, %+v", err, rep.Stages[0])
	}
	g.Wait()
}
