package progress_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/progress"
)

// syncBuffer is a bytes.Buffer safe to read while the renderer writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lastFrame returns the lines drawn after the last erase sequence.
func lastFrame(out string) []string {
	i := strings.LastIndex(out, "\x1b[J")
	return strings.Split(strings.TrimSuffix(out[i+len("\x1b[J"):], "\n"), "\n")
}

func TestLiveRedrawsBlockInPlace(t *testing.T) {
	now := at(0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var out syncBuffer
	r := progress.New(&out, progress.Options{Mode: progress.Live, ShowOutput: true, Now: clock, Interval: time.Hour, Width: 60})

	r.Emit(event.Event{Time: at(0), Run: "demo", Data: event.RunStarted{Stages: []string{"build", "a-very-long-stage-name"}}})
	first := out.String()
	if strings.Contains(first, "\x1b[") && !strings.HasPrefix(first, "\r\x1b[J") {
		t.Errorf("first frame moves the cursor up: %q", first)
	}
	r.Emit(event.Event{Time: at(0), Stage: "build", Attempt: 1, Data: event.StageStarted{}})
	r.Emit(event.Event{Time: at(100), Stage: "build", Data: event.ExecOutput{Stream: "stdout", Data: "compiling \x1b[31mred\x1b[0m\npart"}})
	mu.Lock()
	now = at(2500)
	mu.Unlock()
	r.Emit(event.Event{Time: at(2500), Stage: "build", Attempt: 1, Data: event.StageRetrying{}})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	got := out.String()
	// Every frame after the first moves up over the three-line block.
	if n := strings.Count(got, "\x1b[3A"); n != 4 {
		t.Errorf("cursor-up-3 count = %d, want 4 (three events and Close)", n)
	}
	// Only our own escapes reach the terminal: one erase per frame, one
	// cursor-up per frame after the first.
	if esc := strings.Count(got, "\x1b"); esc != 5+4 {
		t.Errorf("%d escape characters written, want 9: guest output leaked escapes: %q", esc, got)
	}
	if !strings.Contains(got, "[build] compiling [31mred[0m\n") {
		t.Errorf("completed output line missing or unclean: %q", got)
	}
	frame := lastFrame(got)
	want := []string{
		"[build] part",
		"run demo: 0/2 stages done, 2.5s",
		"  build                   retrying   attempt 1   2.5s",
		"  a-very-long-stage-name  pending",
	}
	if strings.Join(frame, "|") != strings.Join(trimRight(want), "|") {
		t.Errorf("last frame:\n%q\nwant:\n%q", frame, want)
	}
	for _, l := range frame {
		if len(l) > 59 {
			t.Errorf("line %q is wider than 59 columns", l)
		}
	}
}

func trimRight(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimRight(s, " ")
	}
	return out
}

func TestLiveTicksAndCloseIsIdempotent(t *testing.T) {
	var out syncBuffer
	r := progress.New(&out, progress.Options{Mode: progress.Live, Interval: time.Millisecond, Width: 80})
	r.Emit(event.Event{Time: time.Now(), Run: "tick", Data: event.RunStarted{Stages: []string{"a"}}})
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\x1b[2A") < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := strings.Count(out.String(), "\x1b[2A"); n < 3 {
		t.Errorf("%d redraws from the ticker, want at least 3", n)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}
