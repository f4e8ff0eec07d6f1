package agent_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/agent"
	"github.com/voidbox/voidbox/internal/agent/mcptools/mcptest"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// calcServer runs this test binary as the mcptest server.
func calcServer(t *testing.T, name, mode string) agent.MCPServer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return agent.MCPServer{Name: name, Command: exe, Env: map[string]string{
		mcptest.ModeEnv: mode,
		"GORACE":        "atexit_sleep_ms=0", // the race runtime's exit delay
	}}
}

func TestMCPToolResultIsFedBack(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		web := mcptest.NewHTTP()
		t.Cleanup(web.Close)
		srv := fk.server(t,
			llmtest.Reply("",
				llmtest.Call{Name: "calc__add", Input: map[string]any{"a": 2, "b": 3}},
				llmtest.Call{Name: "web__add", Input: map[string]any{"a": 4, "b": 5}}),
			llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
				res := r.ToolResults()
				if len(res) != 2 || res[0].Content != "2+3=5" || res[1].Content != "4+5=9" || res[0].IsError {
					t.Errorf("tool results %+v", res)
				}
				return llmtest.Text("five")
			}),
		)
		cfg := baseConfig(t, fk.provider, srv)
		cfg.MCPServers = []agent.MCPServer{calcServer(t, "calc", mcptest.Serve), {Name: "web", URL: web.URL}}
		o := runMain(t, cfg)
		if o.code != 0 {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		tools := all[event.AgentStarted](o)[0].Tools
		for _, name := range []string{"calc__add", "calc__crash", "web__add", "bash"} {
			if !slices.Contains(tools, name) {
				t.Errorf("tools %v lack %s", tools, name)
			}
		}
		if names := srv.Requests()[0].ToolNames(); !slices.Contains(names, "calc__add") {
			t.Errorf("the model was not offered calc__add: %v", names)
		}
		if got := readFile(t, filepath.Join(cfg.Workspace, "output.json")); got != "five" {
			t.Errorf("output %q", got)
		}
	})
}

func TestMCPServerCrashMidRun(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		srv := fk.server(t,
			llmtest.ToolCall("calc__crash", nil),
			llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
				res := r.ToolResults()
				if len(res) != 1 || !strings.Contains(res[0].Content, `mcp server "calc"`) {
					t.Errorf("crash result %+v", res)
				}
				return llmtest.ToolCall("calc__add", map[string]any{"a": 1, "b": 1})
			}),
			llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
				if res := r.ToolResults(); len(res) != 1 || !strings.Contains(res[0].Content, `mcp server "calc"`) {
					t.Errorf("result after crash %+v", res)
				}
				return llmtest.ToolCall("bash", map[string]any{"command": "echo still working"})
			}),
			llmtest.Text("recovered"),
		)
		cfg := baseConfig(t, fk.provider, srv)
		cfg.MCPServers = []agent.MCPServer{calcServer(t, "calc", mcptest.Serve)}
		cfg.ToolTimeout = agent.Duration(20 * time.Second) // a hang would show as slowness, not a pass
		start := time.Now()
		o := runMain(t, cfg)
		if o.code != 0 {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("run took %v", d)
		}
		calls := all[event.AgentToolCall](o)
		if len(calls) != 3 || calls[0].Error == "" || calls[1].Error == "" || calls[2].Error != "" {
			t.Errorf("tool calls %+v", calls)
		}
		if o.finished().FinalText != "recovered" {
			t.Errorf("finished %+v", o.finished())
		}
	})
}

func TestMCPServerThatFailsToStart(t *testing.T) {
	srv := llmtest.NewAnthropic(t)
	cfg := baseConfig(t, agent.ProviderAnthropic, srv)
	cfg.MCPServers = []agent.MCPServer{calcServer(t, "good", mcptest.Serve), calcServer(t, "db", mcptest.FailStart)}
	o := runMain(t, cfg)
	if o.code != agent.ExitFailed {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
	mustContain(t, "stderr", o.stderr, `mcp server "db"`, mcptest.FailMessage)
	mustContain(t, "finished.error", o.finished().Error, mcptest.FailMessage)
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("the model was called %d times", n)
	}
	if len(all[event.AgentStarted](o)) != 0 {
		t.Error("agent.started emitted although a server failed")
	}
}
