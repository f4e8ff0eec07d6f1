package execjson

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

// parseFile runs a transcript through ParseStream with a clock that moves
// 5 ms per call.
func parse(t *testing.T, data []byte) ([]event.Data, *Result) {
	t.Helper()
	clock := time.Unix(0, 0)
	now := func() time.Time { clock = clock.Add(5 * time.Millisecond); return clock }
	var events []event.Data
	res, err := ParseStream(bytes.NewReader(data), func(ev event.Data) { events = append(events, ev) },
		Options{Provider: "openai", Model: "gpt-5-codex", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	checkContract(t, events, res)
	return events, res
}

func readTranscript(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exit(c int) *int { return &c }

// TestShellTranscript is the real CLI (0.171.0) answering a fake Responses
// API that asked for one command and then answered with text.
func TestShellTranscript(t *testing.T) {
	events, res := parse(t, readTranscript(t, "shell_tool.jsonl"))
	want := []event.Data{
		event.AgentStarted{Provider: "openai", Model: "gpt-5-codex", Tools: []string{}},
		event.AgentTurn{Turn: 1, StopReason: "tool_use"},
		event.AgentToolCall{Turn: 1, Name: "shell", DurationMS: 5, ExitCode: exit(0)},
		event.AgentTurn{Turn: 2, InputTokens: 10239 - 30, OutputTokens: 20, StopReason: "end_turn"},
		event.AgentFinished{Turns: 2, ToolCalls: 1, InputTokens: 10209, OutputTokens: 20, FinalText: "done: it said hi"},
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events:\n got %+v\nwant %+v", events, want)
	}
	if !res.Completed || res.PromptTurns != 1 || res.CachedInputTokens != 30 || len(res.Warnings) != 1 ||
		!strings.Contains(res.Warnings[0], "Model metadata") || res.ThreadID == "" || res.Malformed != 0 {
		t.Errorf("result %+v", res)
	}
}

// TestAPIErrorTranscript: the real CLI after a 400 from the API.
func TestAPIErrorTranscript(t *testing.T) {
	events, res := parse(t, readTranscript(t, "api_error.jsonl"))
	fin := events[len(events)-1].(event.AgentFinished)
	if fin.Turns != 0 || fin.ToolCalls != 0 || !strings.Contains(fin.Error, "bad thing") || fin.FinalText != "" {
		t.Errorf("finished %+v", fin)
	}
	if res.Completed || len(res.Notices) != 1 {
		t.Errorf("result %+v", res)
	}
}

// TestParallelAndFailedTools: two commands of one response share its turn;
// a failed MCP call and a declined command carry errors; the next item
// starts a new turn only after both completed.
func TestParallelAndFailedTools(t *testing.T) {
	stream := strings.Join([]string{
		`{"type":"thread.started","thread_id":"t1"}`,
		`{"type":"turn.started"}`,
		`{"type":"item.completed","item":{"id":"r0","type":"reasoning","text":"thinking"}}`,
		`{"type":"item.started","item":{"id":"a","type":"command_execution","command":"false","status":"in_progress"}}`,
		`{"type":"item.started","item":{"id":"b","type":"mcp_tool_call","server":"docs","tool":"search","status":"in_progress"}}`,
		`{"type":"item.completed","item":{"id":"a","type":"command_execution","command":"false","exit_code":1,"status":"failed"}}`,
		`{"type":"item.completed","item":{"id":"b","type":"mcp_tool_call","server":"docs","tool":"search","status":"failed","error":{"message":"no such doc"}}}`,
		`{"type":"item.completed","item":{"id":"c","type":"file_change","changes":[{"path":"/workspace/x","kind":"add"}],"status":"completed"}}`,
		`{"type":"item.completed","item":{"id":"m","type":"agent_message","text":"wrote x"}}`,
		`{"type":"turn.completed","usage":{"input_tokens":500,"cached_input_tokens":100,"output_tokens":50}}`,
	}, "\n")
	events, _ := parse(t, []byte(stream))
	var got []string
	for _, ev := range events {
		switch e := ev.(type) {
		case event.AgentTurn:
			got = append(got, "turn", e.StopReason)
		case event.AgentToolCall:
			got = append(got, e.Name, e.Error)
		}
	}
	want := []string{"turn", "tool_use", "shell", "", "docs__search", "no such doc", "turn", "tool_use", "file_change", "", "turn", "end_turn"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	fin := events[len(events)-1].(event.AgentFinished)
	if fin.Turns != 3 || fin.ToolCalls != 3 || fin.InputTokens != 400 || fin.OutputTokens != 50 || fin.FinalText != "wrote x" {
		t.Errorf("finished %+v", fin)
	}
}

// TestCutOff: a stream that ends mid-command reports the call as failed
// and the run as unfinished; junk lines are counted, not fatal.
func TestCutOff(t *testing.T) {
	stream := "not json\n" + `{"type":"mystery"}` + "\n" + `{"type":"item.started"}` + "\n" +
		`{"type":"item.started","item":{"id":"a","type":"command_execution","command":"sleep 99","status":"in_progress"}}` + "\n" +
		strings.Repeat("x", MaxLine+10) + "\n"
	events, res := parse(t, []byte(stream))
	if res.Malformed != 3 || res.Oversize != 1 {
		t.Errorf("malformed %d oversize %d", res.Malformed, res.Oversize)
	}
	call := events[2].(event.AgentToolCall)
	fin := events[3].(event.AgentFinished)
	if call.Error == "" || fin.Error != "codex exited before completing its turn" || fin.ToolCalls != 1 {
		t.Errorf("call %+v finished %+v", call, fin)
	}
}
