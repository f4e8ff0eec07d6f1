package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/vmtest"
)

// runnableExamples are the examples that need no model, with the output
// each documents; TestExamplesValidateE2E checks that none is missing.
// examples/service.yaml runs in TestServiceE2E.
var runnableExamples = map[string]string{
	"pipeline.yaml":         `{"words":13,"distinct":10,"top":"the","top_count":3}`,
	"fanout.yaml":           `{"count":8,"sum":31,"max":9,"mean":3.88}`,
	"workflow.yaml":         "404 /missing: 2 requests\n500 /api: 1 requests",
	"toolbox.yaml":          "404 /missing: 2\n500 /api: 1",
	"seed/greetings.json":   "hi ADA LIN (2 names)!",
	"service.yaml":          "cheapest: pen 2",
	"seed/web-service.yaml": "stock: 3 lamps, 12 pens",
}

// TestExamplesE2E runs every example in examples/ that needs no model the
// way the README does and checks the output each one documents.
func TestExamplesE2E(t *testing.T) {
	vmtest.Setup(t)
	vmtest.Toolbox(t)          // toolbox.yaml's image (voidbox run would build it on first use)
	t.Setenv("GREETING", "hi") // seed/greetings.json copies it from the host
	for file, want := range runnableExamples {
		if file == "service.yaml" || file == "seed/web-service.yaml" {
			continue // TestServiceE2E
		}
		t.Run(file, func(t *testing.T) {
			r := voidbox(t, "", "run", "--file", "../../examples/"+file, "--progress", "plain")
			_, out, _ := strings.Cut(r.stdout, "\noutput:\n")
			if r.code != 0 || strings.TrimSpace(out) != want {
				t.Fatalf("exit %d output %q\nstdout %s\nstderr %s", r.code, out, r.stdout, r.stderr)
			}
		})
	}
}

func TestRunJSONAndEventsE2E(t *testing.T) {
	vmtest.Setup(t)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	r := voidbox(t, "", "run", "--file", "../../examples/pipeline.yaml", "--output", "json", "--events", events, "--progress", "none")
	var rep struct {
		Status string `json:"status"`
		Output string `json:"output"`
		Stages []struct {
			Name        string `json:"name"`
			Status      string `json:"status"`
			Attempts    int    `json:"attempts"`
			OutputBytes int    `json:"output_bytes"`
		} `json:"stages"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("exit %d report %q: %v", r.code, r.stdout, err)
	}
	if rep.Status != "succeeded" || len(rep.Stages) != 3 || rep.Stages[2].OutputBytes == 0 {
		t.Fatalf("report %+v", rep)
	}
	types := map[string]int{}
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			Time time.Time `json:"time"`
			Type string    `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Time.IsZero() {
			t.Fatalf("event line %q: %v", line, err)
		}
		types[e.Type]++
	}
	for typ, n := range map[string]int{"run.started": 1, "stage.started": 3, "stage.succeeded": 3, "run.finished": 1, "vm.booted": 3} {
		if types[typ] != n {
			t.Errorf("%d %s events, want %d (all: %v)", types[typ], typ, n, types)
		}
	}
	if types["exec.output"] == 0 {
		t.Errorf("no exec.output events: %v", types)
	}
}

func TestSpecErrorsE2E(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`api_version: v1
kind: pipeline
name: broken
pipeline:
  boxes:
    - name: a
      exec: [echo, hi]
      memroy_mb: 12
  stages:
    - box: a
    - fan_out: [a, nope]
`), 0o644)
	for _, sub := range []string{"validate", "run", "inspect"} {
		r := voidbox(t, "", sub, "--file", bad)
		if r.code != 2 || !strings.Contains(r.stderr, "bad.yaml:8:7") || !strings.Contains(r.stderr, `pipeline.stages[1].fan_out[1]`) {
			t.Fatalf("%s: exit %d stderr %q", sub, r.code, r.stderr)
		}
	}
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, nil, 0o644)
	if r := voidbox(t, "", "validate", "--file", empty); r.code != 2 || !strings.Contains(r.stderr, "empty.yaml") {
		t.Fatalf("empty: exit %d stderr %q", r.code, r.stderr)
	}
	if r := voidbox(t, "", "validate", "--file", "../../examples/fanout.yaml"); r.code != 0 || !strings.Contains(r.stdout, "valid pipeline") {
		t.Fatalf("valid spec: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestRunInterruptE2E: Ctrl-C in the middle of a fan-out stops every VM
// within seconds, the report says cancelled, the exit code is non-zero.
func TestRunInterruptE2E(t *testing.T) {
	vmtest.Setup(t)
	dir, rt := t.TempDir(), t.TempDir()
	file := filepath.Join(dir, "sleepers.yaml")
	os.WriteFile(file, []byte(`api_version: v1
kind: pipeline
name: sleepers
sandbox: {memory_mb: 256}
pipeline:
  boxes:
    - {name: a, exec: [sh, -c, "echo up; sleep 300"]}
    - {name: b, exec: [sh, -c, "echo up; sleep 300"]}
    - {name: after, exec: [echo, never]}
  stages:
    - fan_out: [a, b]
    - box: after
`), 0o644)
	events := filepath.Join(dir, "events.jsonl")
	cmd := exec.Command(bin, "run", "--file", file, "--events", events, "--progress", "plain", "--output", "json")
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for countOutput(events) < 2 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("branches never started; stderr %s", errb.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	qemu := qemuPIDs(t, rt)
	if len(qemu) != 2 {
		t.Fatalf("want 2 VMs running, found %v", qemu)
	}
	cmd.Process.Signal(syscall.SIGINT)
	start := time.Now()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 || time.Since(start) > 15*time.Second {
		t.Fatalf("after SIGINT: %v after %v; stderr %s", err, time.Since(start), errb.String())
	}
	var rep struct {
		Status string `json:"status"`
		Stages []struct {
			Name, Status string
		} `json:"stages"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Status != "cancelled" {
		t.Fatalf("report %q: %v", out.String(), err)
	}
	for _, pid := range qemu {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("qemu %d still running", pid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(left) > 0 {
		t.Errorf("runtime dirs left: %v", left)
	}
}

// countOutput counts the stages that have produced output so far.
func countOutput(events string) int {
	f, err := os.Open(events)
	if err != nil {
		return 0
	}
	defer f.Close()
	seen := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		var e struct{ Type, Stage string }
		if json.Unmarshal(s.Bytes(), &e) == nil && e.Type == "exec.output" {
			seen[e.Stage] = true
		}
	}
	return len(seen)
}

// TestVersionAndDoctorShowKernelE2E: the kernel the last set-up resolved is
// reported by `version --json` and `doctor`, with the pin when one is set.
func TestVersionAndDoctorShowKernelE2E(t *testing.T) {
	s := vmtest.Setup(t)
	r := voidbox(t, "", "version", "--json")
	var v struct {
		Protocol int `json:"protocol"`
		Guest    struct {
			KernelPackage string `json:"kernel_package"`
			KernelRelease string `json:"kernel_release"`
			Pinned        bool   `json:"kernel_pinned"`
		} `json:"guest"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 || v.Protocol == 0 ||
		v.Guest.KernelPackage != s.KernelPackage || v.Guest.KernelRelease != s.KernelRelease || v.Guest.Pinned {
		t.Fatalf("version --json: exit %d %q (%v); set-up resolved %s", r.code, r.stdout, err, s.KernelPackage)
	}
	if r := voidbox(t, "", "doctor"); !strings.Contains(r.stdout, s.KernelPackage) {
		t.Errorf("doctor does not show the kernel %s:\n%s", s.KernelPackage, r.stdout)
	}
	name, _, _ := strings.Cut(s.KernelPackage, "=")
	t.Setenv("VOIDBOX_KERNEL_PACKAGE", name)
	if r := voidbox(t, "", "setup"); r.code != 0 {
		t.Fatalf("setup with the kernel pinned to %s: exit %d %s", name, r.code, r.stderr)
	}
	if r := voidbox(t, "", "version"); r.code != 0 || !strings.Contains(r.stdout, "pinned by VOIDBOX_KERNEL_PACKAGE") {
		t.Errorf("version with a pin: exit %d %q", r.code, r.stdout)
	}
}
