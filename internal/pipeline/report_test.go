package pipeline_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"

	"github.com/voidbox/voidbox/internal/pipeline"
)

func TestReportJSON(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("rep").Pipe(node("a")).Pipe(pipeline.Node{ID: "b", Timeout: time.Minute}))
	r := newRunner(map[string]behaviour{
		"a": func(context.Context, *fakeRunner, int, []byte, func(event.Data)) (pipeline.Output, error) {
			return pipeline.Output{Data: []byte(`{"k":1}`), ExitCode: new(0), Detail: map[string]int{"input_tokens": 12}}, nil
		},
		"b": failTimes(9, ""),
	})
	rep, _ := pipeline.Run(context.Background(), g, r, pipeline.Options{})
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "status", "started_at", "finished_at", "duration_ms", "output", "error", "stages"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report JSON lacks %q: %s", k, b)
		}
	}
	stage := raw["stages"].([]any)[0].(map[string]any)
	var keys []string
	for k := range stage {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"attempts", "detail", "duration_ms", "exit_code", "finished_at", "group", "name", "output_bytes", "started_at", "status"}
	if !slices.Equal(keys, want) {
		t.Errorf("stage keys = %v, want %v", keys, want)
	}
	if stage["detail"].(map[string]any)["input_tokens"] != 12.0 {
		t.Errorf("detail = %v", stage["detail"])
	}

	var back pipeline.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Status != pipeline.StatusFailed || back.Stage("b").Error != rep.Stage("b").Error ||
		back.Duration != rep.Duration.Truncate(time.Millisecond) || back.Stage("a").OutputBytes != 7 ||
		back.Stage("a").ExitCode == nil || *back.Stage("a").ExitCode != 0 {
		t.Errorf("round trip: %+v", back)
	}
}
