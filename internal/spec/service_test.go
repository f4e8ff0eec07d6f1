package spec

import (
	"strings"
	"testing"
)

func TestServiceMode(t *testing.T) {
	s, err := Parse("w.yaml", []byte(`kind: workflow
name: w
workflow:
  steps:
    - name: db
      mode: service
      output_file: /workspace/ready
      timeout: 30s
      run: {program: sh, args: [-c, "echo up > /workspace/ready; sleep 1000"]}
    - name: app
      depends_on: [db]
      run: {program: echo}
`))
	if err != nil {
		t.Fatal(err)
	}
	db, app := s.Workflow.Step("db"), s.Workflow.Step("app")
	if !db.Service || db.OutputFile != "/workspace/ready" || db.Timeout.Seconds() != 30 || app.Service || app.OutputFile != DefaultOutputFile {
		t.Fatalf("db %+v app %+v", db, app)
	}
	p, err := Parse("p.yaml", []byte("kind: pipeline\nname: p\npipeline:\n  boxes:\n    - {name: a, exec: [sh], mode: service}\n"))
	if err != nil || !p.Pipeline.Boxes[0].Service {
		t.Fatalf("pipeline box: %v", err)
	}
	_, err = Parse("w.yaml", []byte("kind: workflow\nname: w\nworkflow:\n  steps:\n    - {name: a, run: {program: ls}, output_file: /x}\n"))
	if err == nil || !strings.Contains(err.Error(), "w.yaml:5:37: workflow.steps[0].output_file: only applies to mode: service") {
		t.Fatalf("output_file on a task step: %v", err)
	}
}

func TestInteractiveAgent(t *testing.T) {
	s, err := Parse("i.yaml", []byte("kind: agent\nname: chat\nagent:\n  mode: interactive\n  skills: [\"agent:claude-code\", \"cli:ls\"]\n  timeout: 1h\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := s.Agent
	if !b.Interactive || b.Service || b.Prompt != "" || b.Runtime != RuntimeClaudeCode || b.MaxTurns != 0 || b.Timeout.Hours() != 1 {
		t.Errorf("box %+v", b)
	}
	_, err = Parse("p.yaml", []byte("kind: pipeline\nname: p\npipeline:\n  boxes:\n    - {name: a, prompt: hi, runtime: claude-code, mode: interactive}\n"))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:5:57: pipeline.boxes[0].mode: mode interactive applies to the agent of a kind: agent spec only") {
		t.Errorf("interactive pipeline box: %v", err)
	}
}

func TestServicePorts(t *testing.T) {
	s, err := Parse("w.yaml", []byte(`kind: workflow
name: w
workflow:
  steps:
    - name: web
      mode: service
      ports: [8080, 9090]
      run: {program: httpd, args: [-f, -p, "8080"]}
    - name: client
      depends_on: [web]
      run: {program: wget, args: [-qO-, "http://web:8080/"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Workflow.Step("web").ServicePorts; len(got) != 2 || got[0] != 8080 || got[1] != 9090 {
		t.Errorf("ports %v", got)
	}
}
