package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"

	"github.com/voidbox/voidbox/internal/pipeline"
)

func TestFailureSkipsDependentsOnly(t *testing.T) {
	// a fails; b and c hang off it; d and e are an independent branch that
	// only finishes after a has failed.
	steps := []pipeline.Step{
		{Node: node("a")},
		{Node: node("b"), StdinFrom: "a"},
		{Node: node("c"), DependsOn: []string{"b"}},
		{Node: node("d")},
		{Node: node("e"), StdinFrom: "d"},
	}
	g, err := pipeline.NewWorkflow("wf", steps, "e")
	if err != nil {
		t.Fatalf("building workflow: %v", err)
	}
	log := &eventLog{}
	r := newRunner(map[string]behaviour{
		"a": failTimes(99, ""),
		"d": func(ctx context.Context, _ *fakeRunner, _ int, _ []byte, _ func(event.Data)) (pipeline.Output, error) {
			for !hasEvent(log, "a", event.TypeStageFailed) {
				if ctx.Err() != nil {
					return pipeline.Output{}, ctx.Err()
				}
				time.Sleep(time.Millisecond)
			}
			return pipeline.Output{Data: []byte("d")}, nil
		},
		"e": appendTo("e"),
	})
	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{Sink: log})
	if err == nil {
		t.Fatal("run succeeded, want an error")
	}
	want := map[string]pipeline.Status{"a": "failed", "b": "skipped", "c": "skipped", "d": "succeeded", "e": "succeeded"}
	got := statuses(rep)
	for s, w := range want {
		if got[s] != w {
			t.Errorf("stage %s = %s, want %s", s, got[s], w)
		}
	}
	if rep.Status != pipeline.StatusFailed {
		t.Errorf("run status = %s, want failed", rep.Status)
	}
	if reason := rep.Stage("c").Reason; reason != `stage "a" failed` {
		t.Errorf("c skip reason = %q, want it to name the failed stage", reason)
	}
	if string(rep.Output) != "de" {
		t.Errorf("output = %q: the output step succeeded, so its output stands", rep.Output)
	}
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "a" || !errors.Is(err, errFlaky) {
		t.Errorf("error = %v, want a StageError for a wrapping the runner's error", err)
	}
	if n := r.callCount("b") + r.callCount("c"); n != 0 {
		t.Errorf("skipped stages ran %d times", n)
	}
	if ev := log.of("c"); len(ev) != 1 || ev[0].Type() != event.TypeStageSkipped || ev[0].Data.(event.StageSkipped).FailedStage != "a" {
		t.Errorf("events of c = %+v", ev)
	}
}

func hasEvent(log *eventLog, stage string, typ event.Type) bool {
	for _, e := range log.of(stage) {
		if e.Type() == typ {
			return true
		}
	}
	return false
}

func TestFanOutReportsEveryBranch(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("fan").
		FanOut(node("ok1"), node("bad"), node("ok2")).
		Pipe(node("join")))
	r := newRunner(map[string]behaviour{
		"ok1": succeed("x"),
		"bad": func(context.Context, *fakeRunner, int, []byte, func(event.Data)) (pipeline.Output, error) {
			return pipeline.Output{ExitCode: new(2)}, nil // non-zero exit without an error still fails
		},
		"ok2": succeed("y"),
	})
	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{})
	var exit *pipeline.ExitError
	if !errors.As(err, &exit) || exit.Code != 2 {
		t.Fatalf("error = %v, want an ExitError with code 2", err)
	}
	got := statuses(rep)
	if got["ok1"] != "succeeded" || got["ok2"] != "succeeded" || got["bad"] != "failed" || got["join"] != "skipped" {
		t.Errorf("statuses = %v", got)
	}
	if s := rep.Stage("bad"); s.ExitCode == nil || *s.ExitCode != 2 || s.Error != "exit code 2" {
		t.Errorf("bad report = %+v", s)
	}
	if rep.Output != nil {
		t.Errorf("output = %q, want none when the output stage did not run", rep.Output)
	}
}

func TestRunnerPanicFailsStage(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("p").Pipe(pipeline.Node{ID: "a", Retries: 3}))
	r := newRunner(map[string]behaviour{"a": func(context.Context, *fakeRunner, int, []byte, func(event.Data)) (pipeline.Output, error) {
		panic("boom")
	}})
	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{})
	if err == nil || !strings.Contains(err.Error(), "runner panicked: boom") || !pipeline.IsPermanent(err) {
		t.Fatalf("error = %v", err)
	}
	if a := rep.Stage("a").Attempts; a != 1 {
		t.Errorf("attempts = %d, want 1 (a panic is not retried)", a)
	}
}
