package pipeline_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/voidbox/voidbox/internal/event"

	"github.com/voidbox/voidbox/internal/pipeline"
)

func TestSequentialPassesData(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("seq").Pipe(node("a")).Pipe(node("b")).Pipe(node("c")))
	r := newRunner(map[string]behaviour{"a": appendTo("+a"), "b": appendTo("+b"), "c": appendTo("+c")})

	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{Input: []byte("in")})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if rep.Status != pipeline.StatusSucceeded {
		t.Fatalf("status = %s, want succeeded", rep.Status)
	}
	for stage, want := range map[string]string{"a": "in", "b": "in+a", "c": "in+a+b"} {
		if got := r.inputOf(stage, 1); got != want {
			t.Errorf("input of %s = %q, want %q", stage, got, want)
		}
	}
	if string(rep.Output) != "in+a+b+c" {
		t.Errorf("final output = %q, want %q", rep.Output, "in+a+b+c")
	}
	if s := rep.Stage("b"); s.Attempts != 1 || s.OutputBytes != len("in+a+b") || s.Group != 1 {
		t.Errorf("stage b report = %+v", s)
	}
}

func TestFanOutArrayInDeclarationOrder(t *testing.T) {
	// Branches finish in reverse order: c, then b, then a.
	g := mustPipeline(t, pipeline.NewPipeline("fan").
		Pipe(node("src")).
		FanOut(node("a"), node("b"), node("c")).
		Pipe(node("join")))
	r := newRunner(map[string]behaviour{
		"src":  succeed("seed"),
		"a":    after("b", `{ "n": 1 }`),
		"b":    after("c", "plain <text>"),
		"c":    succeed(""),
		"join": appendTo(""),
	})

	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	r.mu.Lock()
	order := slices.DeleteFunc(slices.Clone(r.finished), func(s string) bool { return s == "src" || s == "join" })
	r.mu.Unlock()
	if !slices.Equal(order, []string{"c", "b", "a"}) {
		t.Fatalf("branches finished in order %v, the test needs c,b,a", order)
	}
	for _, b := range []string{"a", "b", "c"} {
		if got := r.inputOf(b, 1); got != "seed" {
			t.Errorf("branch %s input = %q, want the single upstream output", b, got)
		}
	}
	want := `[{"n":1},"plain <text>",null]`
	if got := r.inputOf("join", 1); got != want {
		t.Errorf("join input = %s, want %s", got, want)
	}
	if string(rep.Output) != want {
		t.Errorf("final output = %s, want %s", rep.Output, want)
	}
}

func TestFanOutLastGroupIsFinalOutput(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("fan-last").Pipe(node("src")).FanOut(node("x"), node("y")))
	r := newRunner(map[string]behaviour{"x": succeed("[1,2]"), "y": succeed(`"s"`)})
	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var got []json.RawMessage
	if err := json.Unmarshal(rep.Output, &got); err != nil {
		t.Fatalf("final output %q is not a JSON array: %v", rep.Output, err)
	}
	if len(got) != 2 || string(got[0]) != "[1,2]" || string(got[1]) != `"s"` {
		t.Errorf("final output = %s", rep.Output)
	}
}

func TestWorkflowStdinFromAndOutputStep(t *testing.T) {
	steps := []pipeline.Step{
		{Node: node("fetch")},
		{Node: node("lint")},
		{Node: node("build"), StdinFrom: "fetch", DependsOn: []string{"fetch", "lint"}},
		{Node: node("report"), StdinFrom: "build"},
	}
	g, err := pipeline.NewWorkflow("wf", steps, "build")
	if err != nil {
		t.Fatalf("building workflow: %v", err)
	}
	r := newRunner(map[string]behaviour{
		"fetch": succeed("src"), "lint": succeed("lint-out"), "build": appendTo("|built"), "report": appendTo("|reported"),
	})
	rep, err := pipeline.Run(context.Background(), g, r, pipeline.Options{Input: []byte("ignored")})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := r.inputOf("build", 1); got != "src" {
		t.Errorf("build input = %q, want fetch's output only", got)
	}
	if got := r.inputOf("fetch", 1); got != "" {
		t.Errorf("fetch input = %q, want none (a workflow has no entry unless set)", got)
	}
	if string(rep.Output) != "src|built" {
		t.Errorf("final output = %q, want the output step's", rep.Output)
	}
	if lv := rep.Stage("report").Group; lv != 2 {
		t.Errorf("report group = %d, want level 2", lv)
	}
}

func TestRunnerEventsAreAttributed(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("ev").Pipe(pipeline.Node{ID: "a", Retries: 1}))
	r := newRunner(map[string]behaviour{
		"a": func(ctx context.Context, f *fakeRunner, attempt int, in []byte, emit func(event.Data)) (pipeline.Output, error) {
			// A runner sends data only: it cannot attribute an event to
			// another stage or attempt.
			emit(event.NewExecOutput("stdout", []byte("hi\xff\n")))
			return failTimes(1, "ok")(ctx, f, attempt, in, emit)
		},
	})
	log := &eventLog{}
	if _, err := pipeline.Run(context.Background(), g, r, pipeline.Options{Sink: log, Clock: &recordingClock{}}); err != nil {
		t.Fatalf("run: %v", err)
	}
	want := []string{"stage.queued", "stage.started", "exec.output", "stage.retrying", "stage.started", "exec.output", "stage.succeeded"}
	if got := types(log.of("a")); !slices.Equal(got, want) {
		t.Fatalf("stage events = %v, want %v", got, want)
	}
	if got := types(log.of("")); !slices.Equal(got, []string{"run.started", "run.finished"}) {
		t.Errorf("run events = %v", got)
	}
	out := log.of("a")[5]
	if out.Attempt != 2 || out.Run != "ev" || out.Time.IsZero() || out.Data.(event.ExecOutput).Data != "hi\uFFFD\n" {
		t.Errorf("exec.output event = %+v", out)
	}
	if f := log.of("")[0].Data.(event.RunStarted).Stages; !slices.Equal(f, []string{"a"}) {
		t.Errorf("run.started stages = %v", f)
	}
}
