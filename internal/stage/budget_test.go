package stage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/agentconfig"
	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox/sandboxtest"
	"github.com/voidbox/voidbox/internal/setup"
)

// TestAgentBudgetMaxRequests: a box with max_requests 2 stops at the third
// request. The in-process agent keeps asking (as a prompt-injected tool
// would) and ignores its 429s; the provider sees two requests, the stage
// fails with the reason, permanently (a retry would share the spent
// budget), and the report counts the refusal.
func TestAgentBudgetMaxRequests(t *testing.T) {
	srv := llmtest.NewAnthropic(t, llmtest.Text("one"), llmtest.Text("two"), llmtest.Text("three"), llmtest.Text("four"))
	t.Setenv("VOIDBOX_STAGE_TEST_KEY", "k")
	g := sandboxtest.New()
	var statuses []int
	g.Handle(setup.AgentGuestPath, func(ctx context.Context, p *sandboxtest.Process) int {
		var cfg agentconfig.Config
		if f := p.Guest.File(agentConfigPath); f == nil || json.Unmarshal(f.Data, &cfg) != nil {
			fmt.Fprintln(p.Stderr, "no agent config")
			return 2
		}
		url := "http://" + p.Guest.TunnelAddr(strings.TrimPrefix(cfg.BaseURL, "http://")) + "/v1/messages"
		for range 4 {
			body := `{"model":"` + cfg.Model + `","max_tokens":64,"messages":[{"role":"user","content":"again"}]}`
			req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
			req.Header.Set("content-type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				fmt.Fprintln(p.Stderr, err)
				return 1
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses = append(statuses, resp.StatusCode)
		}
		p.Guest.WriteFile(cfg.OutputFile, []byte("done anyway"))
		return 0 // the agent itself claims success
	})
	box := &Box{Name: "spender", Retries: 2, Agent: &Agent{Prompt: "spend",
		LLM: LLM{Provider: "claude", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_STAGE_TEST_KEY", Limits: llm.Limits{MaxRequests: 2}}}}
	b := pipeline.NewPipeline("t")
	b.Pipe(box.Node())
	gr, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), gr, map[string]Staged{box.Name: {Box: box}}, Host{}, Options{Boot: BootFunc(g.Boot)})
	g.Wait()
	if err == nil {
		t.Fatalf("the run succeeded past its budget: %+v", rep)
	}
	st := rep.Stages[0]
	if st.Attempts != 1 || !strings.Contains(st.Error, "model budget exhausted: max_requests (2) reached (2 request(s) refused)") {
		t.Errorf("stage: attempts %d error %q", st.Attempts, st.Error)
	}
	if fmt.Sprint(statuses) != "[200 200 429 429]" {
		t.Errorf("the agent got %v", statuses)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("the provider saw %d requests", n)
	}
	if a := st.Detail.(*Detail).Agent; a.Requests != 2 || a.BudgetRefused != 2 {
		t.Errorf("agent detail %+v", a)
	}
}

func TestAgentLimitsValidated(t *testing.T) {
	a := &Agent{Prompt: "x", LLM: LLM{Provider: "claude", Limits: llm.Limits{MaxCostUSD: -1}}}
	if errs := a.problems(policy.Sandbox{}); !strings.Contains(fmt.Sprint(errs), "llm limits") {
		t.Errorf("negative max_cost_usd: %v", errs)
	}
}
