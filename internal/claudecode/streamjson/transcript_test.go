package streamjson

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/event"
)

// The transcripts in testdata are real claude-code 2.1.332 stdout, captured
// by internal/claudecode's real-run tests (go test -update there) against
// the llmtest fake with fixed token usage.

func parseFile(t *testing.T, name string) ([]event.Data, *Result) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []event.Data
	res, err := ParseStream(f, func(ev event.Data) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Malformed != 0 || res.Oversize != 0 {
		t.Errorf("%s: %d malformed, %d oversize lines", name, res.Malformed, res.Oversize)
	}
	return events, res
}

func TestTranscriptBashTool(t *testing.T) {
	events, res := parseFile(t, "bash_tool.jsonl")
	checkTypes(t, events, event.TypeAgentStarted, event.TypeAgentTurn, event.TypeAgentToolCall, event.TypeAgentTurn, event.TypeAgentFinished)
	st := events[0].(event.AgentStarted)
	if st.Provider != "anthropic" || st.Model != "claude-sonnet-4-5" || !slices.Contains(st.Tools, "Bash") {
		t.Errorf("started %+v", st)
	}
	t1, tc, t2 := events[1].(event.AgentTurn), events[2].(event.AgentToolCall), events[3].(event.AgentTurn)
	// claude-code prints each block before the API's final usage arrives:
	// input tokens are exact per turn, output tokens are what it knew then.
	if t1.Turn != 1 || t1.InputTokens != 1000 || t1.StopReason != "tool_use" {
		t.Errorf("turn 1 %+v", t1)
	}
	if tc.Turn != 1 || tc.Name != "Bash" || tc.Error != "" || tc.ExitCode == nil || *tc.ExitCode != 0 || tc.DurationMS <= 0 {
		t.Errorf("tool call %+v", tc)
	}
	if t2.Turn != 2 || t2.InputTokens != 1200 || t2.StopReason != "end_turn" {
		t.Errorf("turn 2 %+v", t2)
	}
	fin := events[4].(event.AgentFinished)
	want := event.AgentFinished{Turns: 2, ToolCalls: 1, InputTokens: 2200, OutputTokens: 27, FinalText: "done: the input says hello"}
	if fin != want {
		t.Errorf("finished %+v, want %+v", fin, want)
	}
	if !res.GotResult || res.Subtype != "success" || res.TerminalReason != "completed" || res.NumTurns != 2 ||
		res.CostUSD <= 0 || res.Version != "2.1.332" || res.SessionID == "" || res.Finished != fin ||
		!slices.Contains(res.Skills, "csv-stats") || res.Model != "claude-sonnet-4-5" {
		t.Errorf("result %+v", res)
	}
}

func TestTranscriptMaxTurns(t *testing.T) {
	events, res := parseFile(t, "max_turns.jsonl")
	checkTypes(t, events, event.TypeAgentStarted, event.TypeAgentTurn, event.TypeAgentToolCall, event.TypeAgentFinished)
	tc := events[2].(event.AgentToolCall)
	if tc.ExitCode == nil || *tc.ExitCode != 3 || !strings.HasPrefix(tc.Error, "Exit code 3") {
		t.Errorf("tool call %+v", tc)
	}
	fin := events[3].(event.AgentFinished)
	if fin.Turns != 1 || fin.ToolCalls != 1 || fin.InputTokens != 500 || fin.FinalText != "" ||
		fin.Error != "max_turns: Reached maximum number of turns (1)" {
		t.Errorf("finished %+v", fin)
	}
	if res.Subtype != "error_max_turns" || res.NumTurns != 2 {
		t.Errorf("result %+v", res)
	}
}

func TestTranscriptAPIError(t *testing.T) {
	events, res := parseFile(t, "api_error.jsonl")
	// The synthetic assistant message claude-code prints for the failure
	// is not a model turn.
	checkTypes(t, events, event.TypeAgentStarted, event.TypeAgentFinished)
	fin := events[1].(event.AgentFinished)
	if fin.Turns != 0 || fin.ToolCalls != 0 || fin.Error != "api_error (HTTP 401): Invalid API key · Fix external API key" {
		t.Errorf("finished %+v", fin)
	}
	if res.APIRetries != 1 || res.APIErrorStatus != 401 || res.CostUSD != 0 {
		t.Errorf("result %+v", res)
	}
}

func checkTypes(t *testing.T, events []event.Data, want ...event.Type) {
	t.Helper()
	var got []event.Type
	for _, ev := range events {
		got = append(got, ev.EventType())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestTranscriptMCPTool(t *testing.T) {
	events, res := parseFile(t, "mcp_tool.jsonl")
	checkTypes(t, events, event.TypeAgentStarted, event.TypeAgentTurn, event.TypeAgentToolCall, event.TypeAgentTurn, event.TypeAgentFinished)
	if tc := events[2].(event.AgentToolCall); tc.Name != "mcp__calc__add" || tc.Error != "" || tc.ExitCode != nil {
		t.Errorf("tool call %+v", tc)
	}
	if !slices.Contains(res.Tools, "mcp__calc__add") || res.Finished.FinalText != "5" {
		t.Errorf("result %+v", res)
	}
}
