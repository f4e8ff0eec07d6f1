package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"

	"go.uber.org/goleak"

	"github.com/voidbox/voidbox/internal/pipeline"
)

func TestCancelMidFanOut(t *testing.T) {
	defer goleak.VerifyNone(t)
	started := make(chan string, 3)
	// Two slots for three blocking branches: two run, one waits for a slot.
	g := mustPipeline(t, pipeline.NewPipeline("cancel").MaxParallel(2).
		Pipe(node("src")).
		FanOut(node("a"), node("b"), node("c")).
		Pipe(node("join")))
	r := newRunner(map[string]behaviour{"a": block(started), "b": block(started), "c": block(started)})
	log := &eventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type result struct {
		rep *pipeline.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := pipeline.Run(ctx, g, r, pipeline.Options{Sink: log})
		done <- result{rep, err}
	}()
	<-started
	<-started
	cancel()
	var res result
	select {
	case res = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancellation")
	}

	if n := r.running.Load(); n != 0 {
		t.Errorf("%d RunStage calls still running after Run returned", n)
	}
	if !errors.Is(res.err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", res.err)
	}
	if res.rep.Status != pipeline.StatusCancelled {
		t.Errorf("run status = %s, want cancelled", res.rep.Status)
	}
	ran := 0
	for _, s := range []string{"a", "b", "c", "join"} {
		st := res.rep.Stage(s)
		if st.Status != pipeline.StatusCancelled {
			t.Errorf("stage %s = %s, want cancelled", s, st.Status)
		}
		ran += r.callCount(s)
		if got := log.of(s); got[len(got)-1].Type() != event.TypeStageCancelled {
			t.Errorf("last event of %s = %s, want stage.cancelled", s, got[len(got)-1].Type())
		}
	}
	if ran != 2 {
		t.Errorf("%d branch attempts ran, want 2: the queued branch must never start", ran)
	}
	if res.rep.Stage("src").Status != pipeline.StatusSucceeded {
		t.Errorf("src = %s, it finished before the cancel", res.rep.Stage("src").Status)
	}
	if last := log.of(""); last[len(last)-1].Type() != event.TypeRunFinished || last[len(last)-1].Data.(event.RunFinished).Status != "cancelled" {
		t.Errorf("last run event = %+v", last[len(last)-1])
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g := mustPipeline(t, pipeline.NewPipeline("pre").Pipe(node("a")).Pipe(node("b")))
	r := newRunner(nil)
	rep, err := pipeline.Run(ctx, g, r, pipeline.Options{})
	if !errors.Is(err, context.Canceled) || rep.Status != pipeline.StatusCancelled {
		t.Fatalf("status %s, error %v", rep.Status, err)
	}
	if r.callCount("a")+r.callCount("b") != 0 {
		t.Error("a stage ran on a cancelled context")
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	defer goleak.VerifyNone(t)
	g := mustPipeline(t, pipeline.NewPipeline("bo").Pipe(pipeline.Node{ID: "a", Retries: 3, Backoff: time.Hour}))
	log := &eventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	r := newRunner(map[string]behaviour{"a": func(context.Context, *fakeRunner, int, []byte, func(event.Data)) (pipeline.Output, error) {
		go func() {
			// Cancel once the engine has announced the retry wait.
			for !hasEvent(log, "a", event.TypeStageRetrying) {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		return pipeline.Output{}, errFlaky
	}})
	rep, err := pipeline.Run(ctx, g, r, pipeline.Options{Sink: log})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v", err)
	}
	if s := rep.Stage("a"); s.Status != pipeline.StatusCancelled || s.Attempts != 1 {
		t.Errorf("stage a = %+v", s)
	}
}

// TestCancelledWhileStartingHasNoExitCode: a stage cancelled while its
// runner was still starting (booting its VM) ran no command, so neither its
// report nor its events may carry an exit code (it once read 0, as if the
// command had succeeded).
func TestCancelledWhileStartingHasNoExitCode(t *testing.T) {
	started := make(chan string, 1)
	g := mustPipeline(t, pipeline.NewPipeline("boot").Pipe(node("a")))
	r := newRunner(map[string]behaviour{"a": block(started)})
	log := &eventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-started; cancel() }()
	rep, err := pipeline.Run(ctx, g, r, pipeline.Options{Sink: log})
	if !errors.Is(err, context.Canceled) || rep.Stage("a").Status != pipeline.StatusCancelled {
		t.Fatalf("want a cancelled stage, got %v / %+v", err, rep.Stage("a"))
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`"exit_code"`)) {
		t.Errorf("report of a stage that ran no command has an exit code: %s", b)
	}
	for _, e := range log.of("a") {
		if b, _ := json.Marshal(e); bytes.Contains(b, []byte(`"exit_code"`)) {
			t.Errorf("event carries an exit code: %s", b)
		}
	}
}
