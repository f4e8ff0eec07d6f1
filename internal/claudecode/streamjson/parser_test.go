package streamjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/event"
)

func parse(t *testing.T, lines ...string) ([]event.Data, *Result) {
	t.Helper()
	var events []event.Data
	res, err := ParseStream(strings.NewReader(strings.Join(lines, "\n")), func(ev event.Data) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	return events, res
}

const (
	sampleInit   = `{"type":"system","subtype":"init","model":"m1","tools":["Bash","Read"],"skills":["s"],"session_id":"sess","claude_code_version":"9.9.9"}`
	sampleResult = `{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"all done","total_cost_usd":0.5,"usage":{"input_tokens":30,"output_tokens":9,"cache_read_input_tokens":7,"cache_creation_input_tokens":5}}`
)

func assistant(id, ts string, blocks ...string) string {
	return fmt.Sprintf(`{"type":"assistant","timestamp":%q,"message":{"id":%q,"usage":{"input_tokens":10,"output_tokens":1},"content":[%s]}}`,
		ts, id, strings.Join(blocks, ","))
}

func toolUse(id, name string) string {
	return fmt.Sprintf(`{"type":"tool_use","id":%q,"name":%q,"input":{"command":"x"}}`, id, name)
}

func toolResult(ts, id string, isError bool, content string) string {
	return fmt.Sprintf(`{"type":"user","timestamp":%q,"message":{"role":"user","content":[{"type":"tool_result","tool_use_id":%q,"is_error":%v,"content":%q}]}}`,
		ts, id, isError, content)
}

func TestBlocksOfOneMessageAreOneTurn(t *testing.T) {
	events, res := parse(t,
		sampleInit,
		assistant("msg_1", "2026-01-01T00:00:00.000Z", `{"type":"text","text":"let me look"}`),
		assistant("msg_1", "2026-01-01T00:00:00.100Z", toolUse("tu_a", "Bash")),
		assistant("msg_1", "2026-01-01T00:00:00.200Z", toolUse("tu_b", "Read")),
		toolResult("2026-01-01T00:00:01.100Z", "tu_a", true, "Exit code 2\nboom"),
		// A late block of msg_1 after a result: it joins turn 1.
		assistant("msg_1", "2026-01-01T00:00:01.150Z", toolUse("tu_c", "Write")),
		toolResult("2026-01-01T00:00:01.300Z", "tu_b", false, "file text"),
		toolResult("2026-01-01T00:00:01.400Z", "tu_c", false, "written"),
		assistant("msg_2", "2026-01-01T00:00:02Z", `{"type":"text","text":"fin"}`),
		sampleResult,
	)
	checkTypes(t, events, event.TypeAgentStarted, event.TypeAgentTurn, event.TypeAgentToolCall, event.TypeAgentToolCall, event.TypeAgentToolCall, event.TypeAgentTurn, event.TypeAgentFinished)
	if tu := events[1].(event.AgentTurn); tu.Turn != 1 || tu.StopReason != "tool_use" || tu.InputTokens != 10 {
		t.Errorf("turn 1 %+v", tu)
	}
	a, b, c := events[2].(event.AgentToolCall), events[3].(event.AgentToolCall), events[4].(event.AgentToolCall)
	if a.Name != "Bash" || a.Turn != 1 || a.DurationMS != 1000 || a.ExitCode == nil || *a.ExitCode != 2 || a.Error != "Exit code 2\nboom" {
		t.Errorf("bash call %+v", a)
	}
	if b.Name != "Read" || b.ExitCode != nil || b.Error != "" || b.DurationMS != 1100 {
		t.Errorf("read call %+v", b)
	}
	if c.Name != "Write" || c.Turn != 1 || c.DurationMS != 250 {
		t.Errorf("late write call %+v", c)
	}
	if tu := events[5].(event.AgentTurn); tu.Turn != 2 {
		t.Errorf("turn 2 %+v", tu)
	}
	fin := events[6].(event.AgentFinished)
	if fin.Turns != 2 || fin.ToolCalls != 3 || fin.FinalText != "all done" || fin.InputTokens != 30 || fin.OutputTokens != 9 {
		t.Errorf("finished %+v", fin)
	}
	if res.CacheReadTokens != 7 || res.CacheWriteTokens != 5 || res.CostUSD != 0.5 || res.Model != "m1" {
		t.Errorf("result %+v", res)
	}
}

func TestStreamWithoutResult(t *testing.T) {
	events, res := parse(t,
		sampleInit,
		assistant("msg_1", "", `{"type":"text","text":"working on it"}`, toolUse("tu_a", "Bash")),
		"", // blank lines are fine
	)
	checkTypes(t, events, event.TypeAgentStarted, event.TypeAgentTurn, event.TypeAgentToolCall, event.TypeAgentFinished)
	if tc := events[2].(event.AgentToolCall); tc.Error == "" || tc.Name != "Bash" {
		t.Errorf("unanswered tool call %+v", tc)
	}
	fin := events[3].(event.AgentFinished)
	if fin.Error != "claude-code exited without a result line" || fin.FinalText != "working on it" || fin.Turns != 1 || fin.ToolCalls != 1 {
		t.Errorf("finished %+v", fin)
	}
	if res.GotResult {
		t.Errorf("GotResult without a result line")
	}
}

func TestSubAgentLinesAreNotTurns(t *testing.T) {
	events, _ := parse(t,
		sampleInit,
		assistant("msg_1", "", toolUse("tu_task", "Task")),
		`{"type":"assistant","parent_tool_use_id":"tu_task","message":{"id":"msg_sub","content":[{"type":"tool_use","id":"tu_sub","name":"Bash"}]}}`,
		`{"type":"user","parent_tool_use_id":"tu_task","message":{"content":[{"type":"tool_result","tool_use_id":"tu_sub","content":"x"}]}}`,
		toolResult("", "tu_task", false, "sub-agent says hi"),
		sampleResult,
	)
	checkTypes(t, events, event.TypeAgentStarted, event.TypeAgentTurn, event.TypeAgentToolCall, event.TypeAgentFinished)
	if tc := events[2].(event.AgentToolCall); tc.Name != "Task" {
		t.Errorf("tool call %+v", tc)
	}
}

func TestDenialsAndErrors(t *testing.T) {
	events, res := parse(t,
		sampleInit,
		`{"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":1,"errors":["tool crashed",{"code":7}],`+
			`"permission_denials":[{"tool_name":"Bash","tool_use_id":"x","tool_input":{"command":"rm -rf /"}}],"terminal_reason":"aborted"}`,
		sampleResult, // a second result is ignored
	)
	checkTypes(t, events, event.TypeAgentStarted, event.TypeAgentDenied, event.TypeAgentFinished)
	if d := events[1].(event.AgentDenied); d.Command != `Bash {"command":"rm -rf /"}` || d.Reason == "" {
		t.Errorf("denied %+v", d)
	}
	fin := events[2].(event.AgentFinished)
	if fin.Error != `aborted: tool crashed: {"code":7}` || fin.FinalText != "" {
		t.Errorf("finished %+v", fin)
	}
	if res.Denials != 1 || res.Subtype != "error_during_execution" {
		t.Errorf("result %+v", res)
	}
}

func TestMalformedAndUnknownLines(t *testing.T) {
	p := NewParser(nil)
	for _, l := range []string{`not json`, `[1,2]`, `{"type":"assistant","message":{"content":7,"id":[]}}`, `{"type":"result","num_turns":"two"}`} {
		if err := p.Line([]byte(l)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Line(%s) = %v, want ErrMalformed", l, err)
		}
	}
	for _, l := range []string{`{"type":"stream_event","event":{}}`, `{"type":"rate_limit_event"}`, `{"type":"system","subtype":"compact_boundary"}`, `  `} {
		if err := p.Line([]byte(l)); err != nil {
			t.Errorf("Line(%s) = %v, want it ignored", l, err)
		}
	}
	res := p.Close()
	if res.Malformed != 4 {
		t.Errorf("Malformed = %d", res.Malformed)
	}
	if again := p.Close(); again.Finished != res.Finished {
		t.Errorf("second Close differs")
	}
}

func TestHostileValuesAreBounded(t *testing.T) {
	huge := strings.Repeat("é", event.MaxFinalText)
	var lines []string
	lines = append(lines, `{"type":"system","subtype":"init","model":"`+strings.Repeat("m", 5000)+`","tools":[`+strings.Repeat(`"t",`, 1000)+`"t"]}`)
	for i := range maxOpenTools + 10 {
		lines = append(lines, assistant(fmt.Sprintf("msg_%d", i), "", toolUse(fmt.Sprintf("tu_%d", i), "Bash")))
	}
	lines = append(lines,
		`{"type":"user","timestamp":"2026-01-01T00:00:00Z","message":{"content":[{"type":"tool_result","tool_use_id":"tu_0","content":"x"}]}}`,
		`{"type":"result","is_error":false,"result":"`+huge+`","usage":{"input_tokens":-5,"output_tokens":1e300},"total_cost_usd":-1,"num_turns":99999999999}`)
	var events []event.Data
	res, err := ParseStream(strings.NewReader(strings.Join(lines, "\n")), func(ev event.Data) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	fin := events[len(events)-1].(event.AgentFinished)
	if len(fin.FinalText) > event.MaxFinalText || fin.InputTokens != 0 || fin.OutputTokens != 0 {
		t.Errorf("finished not bounded: %d bytes, %d in, %d out", len(fin.FinalText), fin.InputTokens, fin.OutputTokens)
	}
	if res.Dropped != 10 || len(res.Tools) != maxList || len(res.Model) > event.MaxField || res.CostUSD != 0 {
		t.Errorf("result not bounded: dropped %d, %d tools, model %d bytes, cost %v", res.Dropped, len(res.Tools), len(res.Model), res.CostUSD)
	}
	// The malformed 1e300 output tokens made the result line unreadable; the
	// finished event then comes from Close.
	if res.GotResult || res.Malformed != 1 {
		t.Errorf("GotResult %v, Malformed %d", res.GotResult, res.Malformed)
	}
}

func TestOversizeLinesAreSkipped(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString(sampleInit + "\n")
	buf.WriteString(`{"type":"assistant","message":{"content":[{"type":"text","text":"` + strings.Repeat("a", MaxLine) + `"}]}}` + "\n")
	buf.WriteString(sampleResult) // no final newline
	var events []event.Data
	res, err := ParseStream(&buf, func(ev event.Data) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Oversize != 1 || !res.GotResult {
		t.Errorf("oversize %d, got result %v", res.Oversize, res.GotResult)
	}
	checkTypes(t, events, event.TypeAgentStarted, event.TypeAgentFinished)
}

func TestEachLine(t *testing.T) {
	var got []string
	long := 0
	in := "a\nbbbbbbbbbb\n\nccc\n" + strings.Repeat("d", 100) + "\neee"
	err := eachLine(strings.NewReader(in), 5, func(b []byte) { got = append(got, strings.TrimSpace(string(b))) }, func() { long++ })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a,,ccc,eee" || long != 2 {
		t.Errorf("lines %q, %d too long", got, long)
	}
	if err := eachLine(io.MultiReader(strings.NewReader("x\n"), errReader{}), 5, func([]byte) {}, func() {}); err == nil {
		t.Errorf("read error lost")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("pipe broke") }

func TestEventsAreAgentEvents(t *testing.T) {
	var events []event.Data
	p := NewParser(func(ev event.Data) { events = append(events, ev) })
	_ = p.Line([]byte(sampleInit))
	p.Close()
	if len(events) == 0 {
		t.Fatal("no events")
	}
	for _, ev := range events {
		if !strings.HasPrefix(string(ev.EventType()), "agent.") {
			t.Errorf("event %T is not an agent event", ev)
		}
	}
}
