package execjson

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/voidbox/voidbox/internal/event"
)

// FuzzParseStream feeds arbitrary bytes to the parser. The seed corpus is
// the real Codex transcripts, whole and line by line (and testdata/fuzz).
// Whatever the input, the parser must not panic and its events must obey
// the contract checked by checkContract.
func FuzzParseStream(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	if len(files) == 0 {
		f.Fatal("no transcripts in testdata")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var events []event.Data
		res, err := ParseStream(bytes.NewReader(data), func(ev event.Data) { events = append(events, ev) }, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkContract(t, events, res)
	})
}

// checkContract: agent.started first and once, agent.finished last and
// once; turns numbered 1..n and counted; tool calls tied to an emitted turn
// and counted; every event within the event limits and readable back.
func checkContract(t *testing.T, events []event.Data, res *Result) {
	t.Helper()
	if len(events) < 2 {
		t.Fatalf("%d events", len(events))
	}
	if _, ok := events[0].(event.AgentStarted); !ok {
		t.Errorf("first event is %T", events[0])
	}
	fin, ok := events[len(events)-1].(event.AgentFinished)
	if !ok {
		t.Fatalf("last event is %T, want event.AgentFinished", events[len(events)-1])
	}
	turns, tools := 0, 0
	for i, ev := range events {
		switch e := ev.(type) {
		case event.AgentStarted:
			if i != 0 {
				t.Errorf("started at %d", i)
			}
		case event.AgentTurn:
			turns++
			if e.Turn != turns || e.InputTokens < 0 || e.OutputTokens < 0 {
				t.Errorf("turn %+v after %d turns", e, turns-1)
			}
		case event.AgentToolCall:
			tools++
			if e.Turn < 1 || e.Turn > turns || e.DurationMS < 0 {
				t.Errorf("tool call %+v with %d turns", e, turns)
			}
		case event.AgentFinished:
			if i != len(events)-1 {
				t.Errorf("finished at %d of %d", i, len(events))
			}
		default:
			t.Errorf("event of type %T", ev)
		}
		b, err := json.Marshal(event.Event{Data: ev})
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > event.MaxLine {
			t.Errorf("%T encodes to %d bytes", ev, len(b))
		}
		if _, err := event.Decode(b); err != nil {
			t.Errorf("event.Decode(%s): %v", b, err)
		}
	}
	if fin.Turns != turns || fin.ToolCalls != tools || fin.InputTokens < 0 || fin.OutputTokens < 0 ||
		len(fin.FinalText) > event.MaxFinalText || len(fin.Error) > event.MaxField {
		t.Errorf("finished %+v after %d turns, %d tool calls", fin, turns, tools)
	}
	if res.Finished != fin {
		t.Errorf("Result.Finished differs from the event")
	}
}
