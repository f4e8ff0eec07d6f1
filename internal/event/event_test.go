package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func intp(i int) *int { return &i }

// samples has one event of every type, with every field set.
var samples = []Data{
	RunStarted{Stages: []string{"a", "b"}, MaxParallel: 2, Needs: map[string][]string{"b": {"a"}}},
	RunFinished{Status: "failed", DurationMS: 12, Error: "stage a failed"},
	StageQueued{}, StageStarted{},
	StageRetrying{Error: "exit 1", DelayMS: 500},
	StageSucceeded{DurationMS: 9, ExitCode: intp(0), OutputBytes: 3},
	StageFailed{Error: "boom", ExitCode: intp(0), Attempts: 2, Permanent: true, StderrTail: []string{"cat: x: No such file"}},
	StageSkipped{Reason: `stage "a" failed`, FailedStage: "a"},
	StageCancelled{Reason: "run cancelled"},
	VMQueued{Ahead: 12, Booting: 2, BootSlots: 2, MemoryInUseMiB: 3174, MemoryBudgetMiB: 18432, MemoryMiB: 608, Reason: "boot slot"},
	VMAdmitted{WaitMS: 4200},
	VMBooted{BootMS: 2512.5, Kernel: "6.1.0-57-amd64", Accel: "tcg"},
	ExecOutput{Stream: "stderr", Data: "hi\n"},
	ExecDenied{PID: 12, Program: "cat", Path: "/bin/cat", Reason: `"cat" is not in allowed_commands`, Killed: true},
	VMStats{MemoryMB: 256, RSSBytes: 200 << 20, CPUMS: 1500, CPUPercent: 97.5},
	AgentStarted{Provider: "anthropic", Model: "m", Tools: []string{"bash"}},
	AgentTurn{Turn: 1, InputTokens: 10, OutputTokens: 2, StopReason: "tool_use"},
	AgentToolCall{Turn: 1, Name: "bash", DurationMS: 5, ExitCode: intp(0), Error: "e", Denied: true},
	AgentDenied{Command: "curl x", Reason: "not allowed"},
	AgentFinished{Turns: 2, ToolCalls: 1, InputTokens: 3, OutputTokens: 4, FinalText: "done", OutputFile: "/o", Error: "x"},
	SkillFetched{Name: "hn-api", URL: "https://x/SKILL.md", SHA256: "ab", Cached: true},
	LLMRequest{Method: "POST", Path: "/v1/messages", Status: 200, Model: "m", DurationMS: 3, Streamed: true, InputTokens: 1, OutputTokens: 2, CostUSD: 0.5, Error: "e"},
	NetAllowed{NetFlow{Box: "b", Proto: "tcp", Name: "example.test", IP: "127.0.0.1", Port: 443, Reason: "pinned", BytesIn: 5, BytesOut: 6, DurationMS: 1.5}},
	NetDenied{NetFlow{Box: "b", Proto: "dns", Name: "other.test", Port: 53, Reason: "other.test is not in the allowlist"}},
	ServiceReady{ReadyMS: 2600, OutputBytes: 6},
	ServiceStopped{UptimeMS: 4100, Reason: "stopped: the run's other stages finished"},
}

func TestRoundTripEveryType(t *testing.T) {
	if len(samples) != len(registry) {
		t.Fatalf("%d samples for %d registered types: add the new type here", len(samples), len(registry))
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 5, time.UTC)
	for _, d := range samples {
		in := Event{Time: now, Run: "r", Stage: "s", Attempt: 2, Data: d}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("%T: %v", d, err)
		}
		out, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Errorf("round trip of %T:\n in %+v\nout %+v", d, in, out)
		}
		if !strings.Contains(string(b), `"type":"`+string(d.EventType())+`"`) {
			t.Errorf("%s lacks its type", b)
		}
	}
}

func TestEnvelopeOmitsEmpty(t *testing.T) {
	b, _ := json.Marshal(Event{Time: time.Unix(0, 0).UTC(), Data: StageQueued{}})
	if got := string(b); got != `{"time":"1970-01-01T00:00:00Z","type":"stage.queued"}` {
		t.Errorf("got %s", got)
	}
	if _, err := json.Marshal(Event{}); err == nil {
		t.Error("event without data encoded")
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, line := range map[string]string{
		"unknown type": `{"type":"agent.hack","fields":{}}`,
		"not json":     `not json`,
		"bad fields":   `{"type":"agent.turn","fields":{"turn":"one"}}`,
		"too long":     `{"type":"exec.output","fields":{"data":"` + strings.Repeat("x", MaxLine) + `"}}`,
	} {
		if _, err := Decode([]byte(line)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWriterClampsAndDecodes(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Emit(Event{Data: AgentFinished{FinalText: strings.Repeat("é", MaxFinalText), Error: strings.Repeat("e", 5000)}})
	w.Emit(Event{Data: AgentStarted{Tools: make([]string, 300)}})
	w.Emit(Event{}) // no data: ignored
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	var got []Event
	for sc.Scan() {
		e, err := Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		got = append(got, e)
	}
	if len(got) != 2 || got[0].Time.IsZero() {
		t.Fatalf("decoded %+v", got)
	}
	f := got[0].Data.(AgentFinished)
	if len(f.FinalText) > MaxFinalText || !strings.HasSuffix(f.FinalText, "…") || len(f.Error) > MaxField {
		t.Errorf("not clamped: %d, %d bytes", len(f.FinalText), len(f.Error))
	}
	if n := len(got[1].Data.(AgentStarted).Tools); n != MaxTools {
		t.Errorf("%d tools kept", n)
	}
}

func FuzzDecode(f *testing.F) {
	for _, d := range samples {
		b, _ := json.Marshal(Event{Data: d})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes encodes again, to something that decodes the same.
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", e, err)
		}
		e2, err := Decode(again)
		if err != nil || e2.Type() != e.Type() {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
	})
}

func TestNetFlowTarget(t *testing.T) {
	for want, f := range map[string]NetFlow{
		"dns other.test":                 {Proto: "dns", Name: "other.test", Port: 53, IP: "127.0.0.1"},
		"tcp example.test 127.0.0.1:443": {Proto: "tcp", Name: "example.test", IP: "127.0.0.1", Port: 443},
		"udp [2001:db8::1]:53":           {Proto: "udp", IP: "2001:db8::1", Port: 53},
		"icmp 198.18.0.9":                {Proto: "icmp", IP: "198.18.0.9"},
	} {
		if got := f.Target(); got != want {
			t.Errorf("%+v: %q, want %q", f, got, want)
		}
	}
}
