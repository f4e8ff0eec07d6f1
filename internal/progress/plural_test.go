package progress_test

import (
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/progress"
)

// TestOneStageReadsSingular: a one-stage run says "1 stage", in plain lines
// and in the live header alike.
func TestOneStageReadsSingular(t *testing.T) {
	started := event.Event{Time: at(0), Run: "solo", Data: event.RunStarted{Stages: []string{"only"}}}
	var plain strings.Builder
	r := progress.New(&plain, progress.Options{Mode: progress.Plain})
	r.Emit(started)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "12:00:00 run solo started (1 stage)\n"; plain.String() != want {
		t.Errorf("plain: %q, want %q", plain.String(), want)
	}

	var live syncBuffer
	now := func() time.Time { return at(1500) }
	r = progress.New(&live, progress.Options{Mode: progress.Live, Now: now, Interval: time.Hour, Width: 60})
	r.Emit(started)
	if frame := lastFrame(live.String()); frame[0] != "run solo: 0/1 stage done, 1.5s" {
		t.Errorf("live header %q, want %q", frame[0], "run solo: 0/1 stage done, 1.5s")
	}
	r.Emit(event.Event{Time: at(1500), Run: "solo", Data: event.RunFinished{Status: "cancelled", DurationMS: 1500}})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if frame := lastFrame(live.String()); frame[0] != "run solo: finished, 0/1 stage done" {
		t.Errorf("final header %q, want %q", frame[0], "run solo: finished, 0/1 stage done")
	}
}
