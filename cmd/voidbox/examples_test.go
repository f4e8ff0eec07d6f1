package main_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/spec"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestExamplesValidateE2E: every spec under examples/ (YAML and JSON, in
// any folder but skills/ and data/, which hold what specs use) validates, with no host variable set that a spec copies, and
// every one that needs no model is run by TestExamplesE2E/TestServiceE2E.
func TestExamplesValidateE2E(t *testing.T) {
	var specs []string
	filepath.WalkDir("../../examples", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".json":
			rel, _ := filepath.Rel("../../examples", p)
			rel = filepath.ToSlash(rel)
			if !strings.HasPrefix(rel, "skills/") && !strings.HasPrefix(rel, "data/") {
				specs = append(specs, rel)
			}
		}
		return nil
	})
	if len(specs) < 7 {
		t.Fatalf("found only %v", specs)
	}
	for _, k := range []string{"GREETING", "GITHUB_TOKEN"} {
		t.Setenv(k, "") // restored afterwards
		os.Unsetenv(k)
	}
	for _, rel := range specs {
		r := voidbox(t, "", "validate", "--file", "../../examples/"+rel)
		if r.code != 0 || !strings.Contains(r.stdout, ": valid ") {
			t.Errorf("%s: exit %d\n%s%s", rel, r.code, r.stdout, r.stderr)
			continue
		}
		s, err := spec.ParseFile("../../examples/" + rel)
		if err != nil {
			t.Fatal(err)
		}
		_, listed := runnableExamples[rel]
		if needsModel(s) == listed {
			t.Errorf("%s: needs a model: %v, in runnableExamples: %v", rel, needsModel(s), listed)
		}
	}
	// validate notes a copied variable the host lacks instead of failing.
	r := voidbox(t, "", "validate", "--file", "../../examples/seed/greetings.json")
	if !strings.Contains(r.stderr, "GREETING is not set on this host") {
		t.Errorf("no note for the missing host variable: %q", r.stderr)
	}
	if r := voidbox(t, "", "run", "--file", "../../examples/seed/greetings.json"); r.code == 0 || !strings.Contains(r.stderr, "GREETING") {
		t.Errorf("run without the host variable: exit %d %q", r.code, r.stderr)
	}
}

func needsModel(s *spec.Spec) bool {
	var boxes []*spec.Box
	switch {
	case s.Agent != nil:
		boxes = []*spec.Box{s.Agent}
	case s.Pipeline != nil:
		boxes = s.Pipeline.Boxes
	}
	for _, b := range boxes {
		if !b.IsCommand() {
			return true
		}
	}
	return false
}

// TestServiceE2E: a service step that writes its ready file and keeps
// running serves its dependants and is stopped when they are done; a service
// that never becomes ready fails at its timeout, its dependant skipped. No
// QEMU is left behind either way.
func TestServiceE2E(t *testing.T) {
	vmtest.Setup(t)
	type stage struct {
		Name    string `json:"name"`
		Status  string `json:"status"`
		Error   string `json:"error"`
		Service *struct {
			ReadyMS    int64  `json:"ready_ms"`
			UptimeMS   int64  `json:"uptime_ms"`
			ExitReason string `json:"exit_reason"`
		} `json:"service"`
	}
	var report struct {
		Status string  `json:"status"`
		Output string  `json:"output"`
		Error  string  `json:"error"`
		Stages []stage `json:"stages"`
	}
	never := filepath.Join(t.TempDir(), "never.yaml")
	os.WriteFile(never, []byte(`kind: workflow
name: never-ready
sandbox: {memory_mb: 256}
workflow:
  steps:
    - {name: bot, mode: service, timeout: 45s, run: {program: sleep, args: ["1000"]}}
    - {name: user, depends_on: [bot], run: {program: echo, args: [hi]}}
`), 0o644)
	// A server on host loopback that no guest may reach.
	hostSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "host secret") }))
	defer hostSrv.Close()
	_, hostPort, _ := net.SplitHostPort(hostSrv.Listener.Addr().String())
	fenced := filepath.Join(t.TempDir(), "fenced.yaml")
	os.WriteFile(fenced, []byte(`kind: workflow
name: fenced
sandbox: {memory_mb: 256}
workflow:
  steps:
    - name: web
      mode: service
      ports: [8080]
      run:
        program: sh
        args: [-c, "mkdir /tmp/w && echo ok > /tmp/w/s && httpd -p 8081 -h /tmp/w && exec httpd -f -p 8080 -h /tmp/w"]
    - name: probe
      depends_on: [web]
      run:
        program: sh
        args:
          - -c
          - |
            wget -q -O - http://web:8080/s
            wget -T 5 -q -O - http://web:8081/s 2>/dev/null && echo LEAK-undeclared-port
            wget -T 5 -q -O - http://10.0.2.2:`+hostPort+`/ 2>/dev/null && echo LEAK-host-loopback
            wget -T 5 -q -O - http://10.0.2.15:8080/s 2>/dev/null && echo LEAK-guest-address
            echo checked
    - name: outsider
      run: {program: sh, args: [-c, "wget -T 5 -q -O - http://web:8080/s 2>/dev/null && echo LEAK-not-a-dependant; echo outside"]}
  output_step: probe
`), 0o644)
	neverPorts := filepath.Join(t.TempDir(), "never-ports.yaml")
	os.WriteFile(neverPorts, []byte(`kind: workflow
name: never-listens
sandbox: {memory_mb: 256}
workflow:
  steps:
    - {name: web, mode: service, ports: [8080], timeout: 45s, run: {program: sleep, args: ["1000"]}}
    - {name: user, depends_on: [web], run: {program: wget, args: [-q, -O, -, "http://web:8080/"]}}
`), 0o644)
	cases := map[string]struct {
		file  string
		code  int
		check func(t *testing.T, stages map[string]stage)
	}{
		"serves": {"../../examples/service.yaml", 0, func(t *testing.T, st map[string]stage) {
			c := st["catalog"]
			if c.Status != "succeeded" || c.Service == nil || c.Service.ReadyMS <= 0 || c.Service.UptimeMS <= 0 ||
				c.Service.ExitReason != "stopped: the run's other stages finished" {
				t.Fatalf("catalog %+v %+v", c, c.Service)
			}
			if report.Output != runnableExamples["service.yaml"]+"\n" || st["total"].Status != "succeeded" {
				t.Fatalf("output %q, stages %+v", report.Output, st)
			}
		}},
		"serves a port": {"../../examples/seed/web-service.yaml", 0, func(t *testing.T, st map[string]stage) {
			w := st["web"]
			if w.Status != "succeeded" || w.Service == nil || w.Service.ReadyMS <= 0 || w.Service.ExitReason != "stopped: the run's other stages finished" {
				t.Fatalf("web %+v %+v", w, w.Service)
			}
			if report.Output != runnableExamples["seed/web-service.yaml"]+"\n" {
				t.Fatalf("output %q, stages %+v", report.Output, st)
			}
		}},
		"only the declared port": {fenced, 0, func(t *testing.T, st map[string]stage) {
			if report.Output != "ok\nchecked\n" || st["outsider"].Status != "succeeded" {
				t.Fatalf("output %q, stages %+v", report.Output, st)
			}
		}},
		"ports never answer": {neverPorts, 1, func(t *testing.T, st map[string]stage) {
			w := st["web"]
			if w.Status != "failed" || !strings.Contains(w.Error, "timed out after 45s: not ready: its output file /workspace/output.json never appeared and its ports [8080] never all answered") ||
				st["user"].Status != "skipped" {
				t.Fatalf("stages %+v", st)
			}
		}},
		"never ready": {never, 1, func(t *testing.T, st map[string]stage) {
			b := st["bot"]
			if b.Status != "failed" || !strings.Contains(b.Error, "timed out after 45s: not ready: its output file /workspace/output.json never appeared") ||
				st["user"].Status != "skipped" {
				t.Fatalf("stages %+v", st)
			}
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rt := t.TempDir()
			r := voidboxIn(t, rt, "run", "--file", c.file, "--output", "json", "--progress", "none")
			if r.code != c.code || json.Unmarshal([]byte(r.stdout), &report) != nil {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			st := map[string]stage{}
			for _, s := range report.Stages {
				st[s.Name] = s
			}
			c.check(t, st)
			if pids := qemuPIDs(t, rt); len(pids) > 0 {
				t.Errorf("QEMU left running: %v", pids)
			}
			if left, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(left) > 0 {
				t.Errorf("runtime dirs left: %v", left)
			}
		})
	}
}
