package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/vmtest"
)

// progressShape is plain progress without its times and durations, so a
// local and a remote run of one spec compare.
func progressShape(s string) []string {
	// Clock times and durations (progress lines, the report's DURATION
	// column) differ between any two runs; so does the padding around them.
	times := regexp.MustCompile(`^\d\d:\d\d:\d\d |\b[0-9.]+(ms|s|m)\b`)
	space := regexp.MustCompile(`\s+`)
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "run ") && strings.Contains(l, "queued on the daemon") || l == "" {
			continue
		}
		out = append(out, space.ReplaceAllString(times.ReplaceAllString(l, ""), " "))
	}
	return out
}

// TestServeE2E: voidbox serve, then voidbox run --remote shows the same
// progress, report and output as a local run; ps, logs and a spec error
// work against the daemon; SIGTERM stops it with no VM left.
func TestServeE2E(t *testing.T) {
	vmtest.Setup(t)
	rt, state := t.TempDir(), t.TempDir()
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+rt, "XDG_STATE_HOME="+state, "VOIDBOX_HOST=")
	serve := exec.Command(bin, "serve", "--max-vms", "2")
	serve.Env = env
	var serveLog bytes.Buffer
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
	sock := filepath.Join(rt, "voidbox", "voidbox.sock")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if fi, err := os.Stat(sock); err == nil && fi.Mode().Perm() == 0o600 && strings.Contains(serveLog.String(), "serving") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("voidbox serve did not start: %s", serveLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cli := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{code, out.String(), errb.String()}
	}
	spec := "../../examples/pipeline.yaml"
	remote := cli("run", "--remote", "--file", spec, "--progress", "plain")
	if remote.code != 0 {
		t.Fatalf("run --remote: exit %d\n%s\n%s\ndaemon: %s", remote.code, remote.stdout, remote.stderr, serveLog.String())
	}
	local := cli("run", "--file", spec, "--progress", "plain")
	if local.code != 0 {
		t.Fatalf("local run: exit %d %s", local.code, local.stderr)
	}
	if r, l := progressShape(remote.stderr), progressShape(local.stderr); strings.Join(r, "\n") != strings.Join(l, "\n") {
		t.Errorf("remote progress:\n%s\nlocal progress:\n%s", strings.Join(r, "\n"), strings.Join(l, "\n"))
	}
	if r, l := progressShape(remote.stdout), progressShape(local.stdout); strings.Join(r, "\n") != strings.Join(l, "\n") {
		t.Errorf("remote report:\n%s\nlocal report:\n%s", remote.stdout, local.stdout)
	}
	ps := cli("ps")
	id := regexp.MustCompile(`(?m)^([0-9a-v]{26})\s+word-stats\s+succeeded`).FindStringSubmatch(ps.stdout)
	if ps.code != 0 || id == nil {
		t.Fatalf("ps: %d %q %s", ps.code, ps.stdout, ps.stderr)
	}
	logs := cli("logs", id[1])
	if logs.code != 0 || !strings.Contains(logs.stdout, "run word-stats succeeded") || !strings.Contains(logs.stdout, "stage produce started") {
		t.Fatalf("logs: %d %q %s", logs.code, logs.stdout, logs.stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("api_version: v1\nkind: pipeline\nname: bad\npipeline:\n  boxes:\n    - name: a\n      exec: [true]\n      memory: 3\n"), 0o644)
	if r := cli("run", "--remote", "--file", bad); r.code != 2 || !strings.Contains(r.stderr, "bad.yaml:8:7:") {
		t.Fatalf("a bad spec: exit %d %s", r.code, r.stderr)
	}
	if r := cli("rm", id[1]); r.code != 0 {
		t.Fatalf("rm: %d %s", r.code, r.stderr)
	}
	serve.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(serveLog.String(), "no VM left") {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, serveLog.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM: %s", serveLog.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after shutdown: %v", err)
	}
}
