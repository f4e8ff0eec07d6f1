package event

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestWriteThenDecode(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	code := 0
	w.Emit(&Started{Provider: "anthropic", Model: "m", Tools: []string{"bash"}})
	w.Emit(&Turn{Turn: 1, InputTokens: 10, OutputTokens: 2, StopReason: "tool_use"})
	w.Emit(&ToolCall{Turn: 1, Name: "bash", DurationMs: 5, ExitCode: &code})
	w.Emit(&Denied{Command: "curl x", Reason: "not allowed"})
	w.Emit(&Finished{Turns: 2, FinalText: strings.Repeat("é", MaxFinalText), OutputFile: "/workspace/output.json"})
	w.Emit(struct{}{}) // not an event: ignored
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	var types []string
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		ev, err := Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("Decode(%s): %v", sc.Text(), err)
		}
		switch e := ev.(type) {
		case *Started:
			types = append(types, e.Type)
			if e.Model != "m" || e.Time.IsZero() {
				t.Errorf("started %+v", e)
			}
		case *Turn:
			types = append(types, e.Type)
		case *ToolCall:
			types = append(types, e.Type)
			if e.ExitCode == nil || *e.ExitCode != 0 {
				t.Errorf("tool call exit code %v, want 0 kept", e.ExitCode)
			}
		case *Denied:
			types = append(types, e.Type)
		case *Finished:
			types = append(types, e.Type)
			if len(e.FinalText) > MaxFinalText || !utf8.ValidString(e.FinalText) || !strings.HasSuffix(e.FinalText, "…") {
				t.Errorf("final text of %d bytes not truncated cleanly", len(e.FinalText))
			}
		}
	}
	want := []string{TypeStarted, TypeTurn, TypeToolCall, TypeDenied, TypeFinished}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("types %v, want %v", types, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, line := range []string{
		``, `{`, `[]`, `{"type":"agent.unknown"}`, `{"type":"agent.turn","turn":"one"}`,
		`{"type":"agent.started","time":"never"}`,
		`{"type":"agent.finished","final_text":"` + strings.Repeat("x", MaxLine) + `"}`,
	} {
		if _, err := Decode([]byte(line)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%.40q) = %v, want ErrMalformed", line, err)
		}
	}
}

func TestConcurrentEmitKeepsLinesWhole(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				w.Emit(&Denied{Command: strings.Repeat("x", 100*i+1), Reason: "r"})
			}
		})
	}
	wg.Wait()
	n := 0
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		if _, err := Decode(sc.Bytes()); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		n++
	}
	if n != 400 {
		t.Errorf("%d lines, want 400", n)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteErrorIsKept(t *testing.T) {
	w := NewWriter(failWriter{})
	w.Emit(&Turn{Turn: 1})
	w.Emit(&Turn{Turn: 2})
	if err := w.Err(); err == nil || err.Error() != "broken pipe" {
		t.Errorf("Err() = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"agent.turn","turn":1,"input_tokens":3}`))
	f.Add([]byte(`{"type":"agent.finished","final_text":"done","error":"x"}`))
	f.Add([]byte(`{"type":"agent.tool_call","exit_code":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := Decode(line)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if header(ev) == nil {
			t.Fatalf("Decode returned %T", ev)
		}
	})
}
