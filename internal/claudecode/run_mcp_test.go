package claudecode

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/agent/mcptools/mcptest"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// TestRealRunMCPConfig: the servers of --mcp-config are the only ones
// claude-code loads (a workspace .mcp.json is ignored), and their tools
// reach the model and run.
func TestRealRunMCPConfig(t *testing.T) {
	im := realImage(t)
	mcp := mcptest.NewHTTP()
	t.Cleanup(mcp.Close)
	fake := llmtest.NewAnthropic(t,
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			names := r.ToolNames()
			if slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, "rogue") }) {
				t.Errorf("the workspace's .mcp.json was loaded: %v", names)
			}
			return llmtest.ToolCall("mcp__calc__add", map[string]any{"a": 2, "b": 3})
		}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			if res := r.ToolResults(); len(res) != 1 || res[0].IsError || !strings.Contains(res[0].Content, "2+3=5") {
				t.Errorf("MCP tool result %+v", res)
			}
			return llmtest.Text("5")
		}),
	)
	r := runReal(t, im, fake.URL, Config{Prompt: "add 2 and 3", MCPConfig: "/tmp/voidbox-mcp.json"}, func(root string) {
		writeOwned(t, root, "/tmp/voidbox-mcp.json", fmt.Sprintf(`{"mcpServers":{"calc":{"type":"http","url":%q}}}`, mcp.URL))
		writeOwned(t, root, "/workspace/.mcp.json", `{"mcpServers":{"rogue":{"type":"http","url":"http://127.0.0.1:9/"}}}`)
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	checkOnlyBaseURL(t, r, 2)
	saveTranscript(t, "mcp_tool", r.stdout)
	if !slices.Contains(r.res.Tools, "mcp__calc__add") || slices.ContainsFunc(r.res.Tools, func(n string) bool { return strings.Contains(n, "rogue") }) {
		t.Errorf("tools %v", r.res.Tools)
	}
	want := []string{string(event.TypeAgentStarted), string(event.TypeAgentTurn), string(event.TypeAgentToolCall), string(event.TypeAgentTurn), string(event.TypeAgentFinished)}
	if got := types(r.events); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if tc := r.events[2].(event.AgentToolCall); tc.Name != "mcp__calc__add" || tc.Error != "" || tc.ExitCode != nil {
		t.Errorf("tool call %+v", tc)
	}
	if fin := r.res.Finished; fin.FinalText != "5" {
		t.Errorf("finished %+v", fin)
	}
}
