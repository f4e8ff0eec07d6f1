package progress_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/progress"
)

var queued = event.VMQueued{Ahead: 12, Booting: 2, BootSlots: 2, MemoryInUseMiB: 3174, MemoryBudgetMiB: 18432, MemoryMiB: 608, Reason: "boot slot"}

// TestQueueShown: a stage waiting for a VM slot says so, with the queue's
// state, in both modes, and is running again once admitted.
func TestQueueShown(t *testing.T) {
	want := "waiting for a VM slot: 12 ahead, 3.1 GiB of 18 GiB in use, 2/2 booting"
	if got := progress.QueueText(queued); got != want {
		t.Fatalf("QueueText = %q, want %q", got, want)
	}
	events := []event.Event{
		{Time: at(0), Run: "fan", Data: event.RunStarted{Stages: []string{"a"}}},
		{Time: at(0), Run: "fan", Stage: "a", Attempt: 1, Data: event.StageStarted{}},
		{Time: at(10), Run: "fan", Stage: "a", Attempt: 1, Data: queued},
		{Time: at(1010), Run: "fan", Stage: "a", Attempt: 1, Data: event.VMQueued{Ahead: 11, MemoryBudgetMiB: 18432}},
		{Time: at(3110), Run: "fan", Stage: "a", Attempt: 1, Data: event.VMAdmitted{WaitMS: 3100}},
	}
	var plain bytes.Buffer
	r := progress.New(&plain, progress.Options{Mode: progress.Plain})
	for _, e := range events {
		r.Emit(e)
	}
	r.Close()
	if got := plain.String(); strings.Count(got, "waiting for a VM slot") != 1 || !strings.Contains(got, "stage a "+want) ||
		!strings.Contains(got, "stage a admitted after 3.1s") {
		t.Fatalf("plain:\n%s", got)
	}

	var live bytes.Buffer
	now := at(500)
	r = progress.New(&live, progress.Options{Mode: progress.Live, Now: func() time.Time { return now }, Interval: time.Hour, Width: 200})
	for _, e := range events[:3] {
		r.Emit(e)
	}
	if got := live.String(); !strings.Contains(got, "waiting") || !strings.Contains(got, want) {
		t.Fatalf("live while waiting:\n%q", got)
	}
	live.Reset()
	r.Emit(events[4])
	r.Close()
	if got := live.String(); strings.Contains(got, "waiting for") || !strings.Contains(got, "running") {
		t.Fatalf("live once admitted:\n%q", got)
	}
}
