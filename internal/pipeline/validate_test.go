package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/pipeline"
)

func TestValidateNamesCycles(t *testing.T) {
	g := &pipeline.Graph{Name: "cyc", Nodes: []*pipeline.Node{
		{ID: "a", After: []string{"c"}},
		{ID: "b", Inputs: []string{"a"}},
		{ID: "c", Inputs: []string{"b"}},
		{ID: "d"},
	}}
	err := pipeline.Validate(g)
	if !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("error = %v, want ErrInvalid", err)
	}
	if err.Error() != "cycle: a -> b -> c -> a" {
		t.Errorf("error = %q", err)
	}
	rep, runErr := pipeline.Run(context.Background(), g, newRunner(nil), pipeline.Options{})
	if rep != nil || !errors.Is(runErr, pipeline.ErrInvalid) {
		t.Errorf("Run on a cyclic graph = %v, %v", rep, runErr)
	}
}

func TestValidateCollectsEveryProblem(t *testing.T) {
	g := &pipeline.Graph{
		Name:        "bad",
		MaxParallel: -1,
		Output:      []string{"ghost"},
		Nodes: []*pipeline.Node{
			{ID: "a", Retries: -1},
			{ID: "b", Inputs: []string{"a", "x"}, Combine: pipeline.InputSingle},
			{ID: "c", After: []string{"c"}, Timeout: -1},
			{ID: "d", Inputs: []string{"a", "a"}, Combine: pipeline.InputArray},
		},
	}
	err := pipeline.Validate(g)
	want := []string{
		"max_parallel: negative (-1)",
		`stage "a": retries: negative (-1)`,
		`stage "b": combine single with 2 inputs (use array)`,
		`stage "b": inputs: unknown stage "x"`,
		`stage "c": timeout: negative (-1ns)`,
		`stage "c": after: depends on itself`,
		`stage "d": inputs: "a" listed twice`,
		`output: unknown stage "ghost"`,
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestValidateDuplicateIDs(t *testing.T) {
	g := &pipeline.Graph{Nodes: []*pipeline.Node{{ID: "a"}, {ID: "b"}, {ID: "a"}, {}}}
	err := pipeline.Validate(g)
	want := "stage \"a\": declared twice (nodes[0] and nodes[2])\nnodes[3]: empty id"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestBuildersRejectMisuse(t *testing.T) {
	if _, err := pipeline.NewPipeline("empty").Build(); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("empty pipeline: %v", err)
	}
	_, err := pipeline.NewPipeline("p").Pipe(node("a")).FanOut().Pipe(pipeline.Node{ID: "b", After: []string{"a"}}).Build()
	if err == nil || !strings.Contains(err.Error(), "group 1: fan-out with no stages") ||
		!strings.Contains(err.Error(), `stage "b": inputs and after are set by the pipeline's order`) {
		t.Errorf("misused pipeline: %v", err)
	}
	_, err = pipeline.NewWorkflow("w", []pipeline.Step{{Node: node("a"), StdinFrom: "nope"}}, "zz")
	if err == nil || !strings.Contains(err.Error(), `stage "a": inputs: unknown stage "nope"`) ||
		!strings.Contains(err.Error(), `output: unknown stage "zz"`) {
		t.Errorf("bad workflow: %v", err)
	}
}
