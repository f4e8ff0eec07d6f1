package pipeline_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/pipeline"
)

func TestPlanText(t *testing.T) {
	g := mustPipeline(t, pipeline.NewPipeline("review").MaxParallel(2).
		Pipe(pipeline.Node{ID: "fetch", Retries: 2, Backoff: time.Second}).
		FanOut(node("lint"), pipeline.Node{ID: "test", Timeout: 5 * time.Minute}).
		Pipe(node("summary")))
	p, err := pipeline.NewPlan(g)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `run review: 4 stages in 3 levels, max parallel 2, output summary (single)
LEVEL  STAGE    INPUTS             AFTER  RETRIES  BACKOFF  TIMEOUT
0      fetch    run input          -      2        1s       none
1      lint     fetch              -      0        0s       none
1      test     fetch              -      0        0s       5m0s
2      summary  lint,test (array)  -      0        0s       none
`
	if b.String() != want {
		t.Errorf("plan text:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPlanJSONTopologicalOrder(t *testing.T) {
	g, err := pipeline.NewWorkflow("wf", []pipeline.Step{
		{Node: node("deploy"), DependsOn: []string{"build", "test"}},
		{Node: node("test"), StdinFrom: "build"},
		{Node: pipeline.Node{ID: "build", Timeout: 90 * time.Second}},
	}, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.NewPlan(g)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Levels int `json:"levels"`
		Stages []struct {
			Name      string   `json:"name"`
			Level     int      `json:"level"`
			Inputs    []string `json:"inputs"`
			After     []string `json:"after"`
			TimeoutMS int64    `json:"timeout_ms"`
			Combine   string   `json:"combine"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range got.Stages {
		order = append(order, s.Name)
	}
	if strings.Join(order, ",") != "build,test,deploy" || got.Levels != 3 {
		t.Fatalf("plan = %s", b)
	}
	if s := got.Stages[0]; s.TimeoutMS != 90000 || s.Combine != "single" {
		t.Errorf("build = %+v", s)
	}
	if s := got.Stages[2]; s.Level != 2 || strings.Join(s.After, ",") != "build,test" || len(s.Inputs) != 0 {
		t.Errorf("deploy = %+v", s)
	}
}

func TestPlanTextOneStage(t *testing.T) {
	p, err := pipeline.NewPlan(mustPipeline(t, pipeline.NewPipeline("solo").Pipe(node("only"))))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(b.String(), "\n"); !strings.HasPrefix(first, "run solo: 1 stage in 1 level,") {
		t.Errorf("plan header %q, want 1 stage in 1 level", first)
	}
}
