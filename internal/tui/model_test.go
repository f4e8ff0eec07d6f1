package tui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/voidbox/voidbox/internal/event"
)

// recorded reads a stream written by `voidbox run --events` (testdata).
func recorded(t *testing.T, name string) []event.Event {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, event.MaxLine)
	for sc.Scan() {
		ev, err := event.Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// newTestModel is a model at a fixed clock and size.
func newTestModel(o Options, w, h int) *Model {
	if o.Now == nil {
		now := time.Date(2026, 12, 3, 13, 30, 0, 0, time.UTC)
		o.Now = func() time.Time { return now }
	}
	m := NewModel(o)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

// screen is the model's frame as plain text, checked for exact size.
func screen(t *testing.T, m *Model) string {
	t.Helper()
	frame := m.render()
	rows := strings.Split(frame, "\n")
	if len(rows) != m.height {
		t.Fatalf("frame has %d rows, want %d:\n%s", len(rows), m.height, ansi.Strip(frame))
	}
	for i, r := range rows {
		if w := ansi.StringWidth(r); w != m.width {
			t.Fatalf("row %d is %d cells wide, want %d: %q", i, w, m.width, ansi.Strip(r))
		}
	}
	return ansi.Strip(frame)
}

func stageRow(t *testing.T, scr, name string) string {
	t.Helper()
	for _, l := range strings.Split(scr, "\n") {
		left, _, ok := strings.Cut(l, "││")
		if ok && strings.Contains(left, " "+name+" ") {
			return left
		}
	}
	t.Fatalf("no row for stage %s in:\n%s", name, scr)
	return ""
}

func TestReplayFanOutEveryStageSucceeds(t *testing.T) {
	evs := recorded(t, "fanout.jsonl")
	for _, batch := range []string{"one batch", "event by event"} {
		t.Run(batch, func(t *testing.T) {
			m := newTestModel(Options{}, 100, 24)
			if batch == "one batch" {
				m.Update(EventsMsg(evs))
			} else {
				for _, ev := range evs {
					m.Update(EventsMsg{ev})
				}
			}
			scr := screen(t, m)
			if !strings.Contains(scr, "run number-stats · succeeded · 5/5 done · 48.3s") {
				t.Errorf("header:\n%s", scr)
			}
			for _, st := range []string{"numbers", "count", "sum", "max", "merge"} {
				if row := stageRow(t, scr, st); !strings.Contains(row, "✓ "+st) || !strings.Contains(row, "succeeded") {
					t.Errorf("stage %s: %q", st, row)
				}
			}
			// The fan-out is drawn as a bracket at level 2, merge at 3.
			for _, want := range []string{"2 ┌ ✓ count", "├ ✓ sum", "└ ✓ max", "3   ✓ merge"} {
				if !strings.Contains(scr, want) {
					t.Errorf("graph lacks %q:\n%s", want, scr)
				}
			}
			// The last stage started is selected; its output and VM show.
			for _, want := range []string{`{"count":8,"sum":31,"max":9,"mean":3.88}`, "needs count, sum, max", "vm · tcg boot", "rss 257 MiB (guest 256 MiB)", "exit 0"} {
				if !strings.Contains(scr, want) {
					t.Errorf("detail lacks %q:\n%s", want, scr)
				}
			}
		})
	}
}

func TestResizeRedrawsExactly(t *testing.T) {
	m := newTestModel(Options{}, 120, 40)
	m.Update(EventsMsg(recorded(t, "fanout.jsonl")))
	// screen checks every size: each row exactly as wide as the terminal
	// and exactly as many rows, so nothing of a bigger frame is left over.
	for _, sz := range [][2]int{{120, 40}, {80, 24}, {61, 12}, {59, 12}, {40, 10}, {20, 5}, {200, 60}, {100, 3}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		scr := screen(t, m)
		if sz[1] >= 8 && !strings.Contains(scr, "merge") {
			t.Errorf("%dx%d: merge missing:\n%s", sz[0], sz[1], scr)
		}
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// press sends keys and runs the commands they return, as the program
// would, reporting whether one of them quit.
func press(m *Model, keys ...string) (quit bool) {
	for _, k := range keys {
		_, cmd := m.Update(keyMsg(k))
		quit = quit || runCmd(cmd)
	}
	return quit
}

func runCmd(cmd tea.Cmd) (quit bool) {
	if cmd == nil {
		return false
	}
	switch msg := cmd().(type) {
	case tea.QuitMsg:
		return true
	case tea.BatchMsg:
		for _, c := range msg {
			quit = runCmd(c) || quit
		}
	}
	return quit
}

// running is the start of a local run: three stages, two running.
func running() []event.Event {
	t0 := time.Date(2026, 12, 3, 13, 29, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	return []event.Event{
		{Time: at(0), Run: "r", Data: event.RunStarted{Stages: []string{"a", "b", "c"}, Needs: map[string][]string{"c": {"a"}}}},
		{Time: at(0), Run: "r", Stage: "a", Data: event.StageQueued{}},
		{Time: at(1), Run: "r", Stage: "a", Attempt: 1, Data: event.StageStarted{}},
		{Time: at(1), Run: "r", Stage: "b", Attempt: 1, Data: event.StageStarted{}},
		{Time: at(3), Run: "r", Stage: "a", Attempt: 1, Data: event.VMBooted{BootMS: 2100, Kernel: "6.1.0-57-amd64", Accel: "tcg"}},
		{Time: at(4), Run: "r", Stage: "a", Attempt: 1, Data: event.VMStats{MemoryMB: 512, RSSBytes: 300 << 20, CPUMS: 4000, CPUPercent: 97.4}},
	}
}

func TestCancelAsksFirst(t *testing.T) {
	var cancels atomic.Int32
	m := newTestModel(Options{Cancel: func() { cancels.Add(1) }}, 100, 24)
	m.Update(EventsMsg(running()))
	press(m, "up") // b started last and is selected: look at a
	scr := screen(t, m)
	// c waits for a only, not for the whole level above: it says so.
	for _, want := range []string{"1 VM ", "c cancel", "cpu 97%", "rss 300 MiB (guest 512 MiB)", "tcg boot 2.1s", "○ c     pending ← a"} {
		if !strings.Contains(scr, want) {
			t.Errorf("lacks %q:\n%s", want, scr)
		}
	}
	if press(m, "c", "n") || cancels.Load() != 0 {
		t.Fatal("n cancelled or quit")
	}
	press(m, "c")
	if scr := screen(t, m); !strings.Contains(scr, "Cancel run r? Every running stage's VM is stopped. [y/N]") {
		t.Fatalf("no confirmation:\n%s", scr)
	}
	if press(m, "y") {
		t.Fatal("cancelling quit the view")
	}
	if cancels.Load() != 1 {
		t.Fatalf("cancel called %d times", cancels.Load())
	}
	if scr := screen(t, m); !strings.Contains(scr, "cancelling") || strings.Contains(scr, "c cancel") {
		t.Errorf("after cancel:\n%s", scr)
	}
	press(m, "c", "y") // already sent: not again
	if cancels.Load() != 1 {
		t.Fatalf("cancel called %d times", cancels.Load())
	}
}

func TestQuitLocalRunCancelsAfterConfirmation(t *testing.T) {
	var cancels atomic.Int32
	m := newTestModel(Options{Cancel: func() { cancels.Add(1) }}, 100, 24)
	m.Update(EventsMsg(running()))
	if press(m, "q") {
		t.Fatal("q quit a running local run without asking")
	}
	if !strings.Contains(screen(t, m), "quitting cancels it") {
		t.Fatal("no question")
	}
	if !press(m, "y") || cancels.Load() != 1 {
		t.Fatalf("y: quit and one cancel expected, cancels=%d", cancels.Load())
	}
	// Ctrl-C asks too, and a second Ctrl-C confirms.
	m = newTestModel(Options{Cancel: func() { cancels.Add(1) }}, 100, 24)
	m.Update(EventsMsg(running()))
	press(m, "ctrl+c")
	if cancels.Load() != 1 {
		t.Fatal("first ctrl+c cancelled")
	}
	press(m, "ctrl+c")
	if cancels.Load() != 2 {
		t.Fatal("second ctrl+c did not cancel")
	}
}

func TestRemoteRunQuitDetaches(t *testing.T) {
	m := newTestModel(Options{}, 100, 24) // no Cancel: someone else's run
	m.Update(EventsMsg(running()))
	if scr := screen(t, m); strings.Contains(scr, "c cancel") {
		t.Errorf("a remote run offers cancel:\n%s", scr)
	}
	if press(m, "c") || m.ask != askNothing {
		t.Fatal("c did something on a remote run")
	}
	if !press(m, "q") {
		t.Fatal("q did not quit")
	}
}

func TestAttachedQuitLeavesTheRun(t *testing.T) {
	var cancels atomic.Int32
	m := newTestModel(Options{Cancel: func() { cancels.Add(1) }, Attached: true}, 100, 24)
	m.Update(EventsMsg(running()))
	if !strings.Contains(screen(t, m), "c cancel") {
		t.Error("an attached view with Cancel does not offer it")
	}
	if !press(m, "q") || cancels.Load() != 0 {
		t.Fatalf("q on an attached view: cancels=%d", cancels.Load())
	}
}

func TestFinishedRunQuits(t *testing.T) {
	m := newTestModel(Options{Cancel: func() { t.Error("cancel of a finished run") }}, 100, 24)
	m.Update(EventsMsg(recorded(t, "fanout.jsonl")))
	if !press(m, "q") {
		t.Fatal("q did not quit")
	}
}

func TestSelectFollowAndScroll(t *testing.T) {
	m := newTestModel(Options{}, 100, 24)
	evs := running()
	for i := range 200 {
		evs = append(evs, event.Event{Run: "r", Stage: "b", Attempt: 1, Data: event.NewExecOutput("stdout", []byte(fmt.Sprintf("line %03d\n", i)))})
	}
	m.Update(EventsMsg(evs))
	// b started last, so it is selected, following its output.
	scr := screen(t, m)
	if !strings.Contains(scr, "output (following)") || !strings.Contains(scr, "line 199") {
		t.Fatalf("not following b:\n%s", scr)
	}
	press(m, "pgup")
	scr = screen(t, m)
	if strings.Contains(scr, "line 199") || !strings.Contains(scr, "lines above the end") {
		t.Fatalf("pgup did not scroll:\n%s", scr)
	}
	// New output does not move a scrolled view.
	m.Update(EventsMsg{{Run: "r", Stage: "b", Attempt: 1, Data: event.NewExecOutput("stdout", []byte("line 200\n"))}})
	if strings.Contains(screen(t, m), "line 200") {
		t.Fatal("scrolled view followed new output")
	}
	press(m, "f")
	if scr := screen(t, m); !strings.Contains(scr, "line 200") || !strings.Contains(scr, "following") {
		t.Fatalf("f did not follow:\n%s", scr)
	}
	// Moving to another stage.
	press(m, "up")
	if got := m.current().name; got != "a" {
		t.Fatalf("up selected %s, want a", got)
	}
	press(m, "down", "down")
	if got := m.current().name; got != "c" {
		t.Fatalf("down down selected %s, want c", got)
	}
	// A newer stage starting does not take the selection from the user.
	m.Update(EventsMsg{{Run: "r", Stage: "a", Attempt: 2, Data: event.StageStarted{}}})
	if got := m.current().name; got != "c" {
		t.Fatalf("selection moved to %s", got)
	}
}

func TestOpenOutput(t *testing.T) {
	m := newTestModel(Options{}, 100, 24)
	m.Update(EventsMsg(recorded(t, "fanout.jsonl")))
	press(m, "o")
	scr := screen(t, m)
	if !strings.Contains(scr, "output of merge (succeeded) · lines 1–1 of 1") || !strings.Contains(scr, `"mean":3.88`) {
		t.Fatalf("pager:\n%s", scr)
	}
	press(m, "esc")
	if m.pager {
		t.Fatal("esc did not close the pager")
	}
	if press(m, "up", "enter", "q") {
		t.Fatal("q in the pager quit the view")
	}
	if m.pager {
		t.Fatal("q did not close the pager")
	}
}

func TestGuestTextCannotReachTheTerminal(t *testing.T) {
	m := newTestModel(Options{}, 100, 24)
	evs := running()
	hostile := "\x1b]52;c;aGVsbG8=\x07\x1b[2J\x1b]0;pwned\x07\x1bP+q544e\x1b\\\x9b6n\u202eevil\rvisible\n"
	evs = append(evs,
		event.Event{Run: "r", Stage: "b", Attempt: 1, Data: event.NewExecOutput("stdout", []byte(hostile))},
		event.Event{Run: "r", Stage: "b", Attempt: 1, Data: event.StageFailed{Error: "exit 1: \x1b[31mred\x1b[0m"}})
	m.Update(EventsMsg(evs))
	frame := m.render()
	for _, bad := range []string{"]52;", "\x1b[2J", "pwned", "\x1bP", "\x9b", "\u202e", "\x1b[31m"} {
		if strings.Contains(frame, bad) {
			t.Errorf("frame holds guest sequence %q", bad)
		}
	}
	if scr := ansi.Strip(frame); !strings.Contains(scr, "visible") || !strings.Contains(scr, "exit 1: [31mred[0m") {
		t.Errorf("text lost:\n%s", scr)
	}
}

func TestAgentActivityAndCost(t *testing.T) {
	m := newTestModel(Options{}, 120, 30)
	ev := func(d event.Data) event.Event { return event.Event{Run: "r", Stage: "review", Attempt: 1, Data: d} }
	m.Update(EventsMsg{
		{Run: "r", Data: event.RunStarted{Stages: []string{"review"}}},
		ev(event.StageStarted{}),
		ev(event.AgentStarted{Provider: "anthropic", Model: "claude-sonnet-4-5", Tools: []string{"bash", "read_file"}}),
		ev(event.AgentTurn{Turn: 1, InputTokens: 1200, OutputTokens: 80, StopReason: "tool_use"}),
		ev(event.AgentToolCall{Turn: 1, Name: "bash", DurationMS: 130, ExitCode: new(2)}),
		ev(event.AgentDenied{Command: "curl example.com", Reason: "curl is not in allowed_commands"}),
		ev(event.AgentToolCall{Turn: 1, Name: "bash", DurationMS: 3, Denied: true, Error: "command not allowed"}),
		ev(event.LLMRequest{Method: "POST", Path: "/v1/messages", Status: 200, Model: "claude-sonnet-4-5", InputTokens: 1200, OutputTokens: 80, CostUSD: 0.0048}),
		ev(event.LLMRequest{Method: "POST", Path: "/v1/messages", Status: 200, Model: "claude-sonnet-4-5", InputTokens: 1400, OutputTokens: 40, CostUSD: 0.0048}),
	})
	scr := screen(t, m)
	for _, want := range []string{
		"tokens 2600 in / 120 out · $0.0096",                          // header totals
		"agent claude-sonnet-4-5 · 1 turns · 2 tool calls · 1 denied", // stage summary
		"turn 1: 1200 in / 80 out tokens (tool_use)",
		"turn 1: bash exit 2 (130ms)",
		"denied: curl example.com (curl is not in allowed_commands)",
		"turn 1: bash (3ms) denied: command not allowed",
	} {
		if !strings.Contains(scr, want) {
			t.Errorf("lacks %q:\n%s", want, scr)
		}
	}
}

func TestStreamDecodesLinesAndSSE(t *testing.T) {
	in := strings.Join([]string{
		`{"time":"2026-12-03T13:24:16Z","type":"run.started","run":"r","fields":{"stages":["a"]}}`,
		`not json`,
		`{"time":"2026-12-03T13:24:16Z","type":"made.up","run":"r"}`,
		`: keepalive`,
		`id: 7`,
		`event: event`,
		`data: {"time":"2026-12-03T13:24:17Z","type":"stage.started",`,
		`data: "run":"r","stage":"a","attempt":1}`,
		``,
		`data: {"time":"2026-12-03T13:24:18Z","type":"stage.succeeded","run":"r","stage":"a","attempt":1,"fields":{"duration_ms":5,"output_bytes":0}}`,
		``,
	}, "\n")
	s := NewStream(io.NopCloser(strings.NewReader(in)))
	var got []event.Type
	for {
		ev, err := s.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Type())
	}
	want := []event.Type{event.TypeRunStarted, event.TypeStageStarted, event.TypeStageSucceeded}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("types %v, want %v", got, want)
	}
	if s.Skipped() != 2 {
		t.Errorf("skipped %d, want 2", s.Skipped())
	}
}

func TestFeedOrderAndClose(t *testing.T) {
	f := NewFeed()
	done := make(chan []int)
	go func() {
		var got []int
		for {
			ev, err := f.Next(context.Background())
			if err == io.EOF {
				done <- got
				return
			}
			got = append(got, ev.Attempt)
		}
	}()
	for i := range 1000 {
		f.Emit(event.Event{Attempt: i, Data: event.StageStarted{}})
	}
	f.Close()
	f.Emit(event.Event{Attempt: -1, Data: event.StageStarted{}}) // after Close: dropped
	got := <-done
	if len(got) != 1000 {
		t.Fatalf("%d events", len(got))
	}
	for i, a := range got {
		if a != i {
			t.Fatalf("event %d is %d", i, a)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewFeed().Next(ctx); err != context.Canceled {
		t.Errorf("Next on a cancelled context: %v", err)
	}
}
