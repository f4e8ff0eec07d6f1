package main_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestAttachE2E: a second voidbox finds a running stage by RUN/STAGE,
// follows its output read-only, opens a shell in its VM only where the
// spec allows it (attach_shell), and leaving the shell leaves the stage
// running; the run is then interrupted and every VM is gone.
func TestAttachE2E(t *testing.T) {
	vmtest.Setup(t)
	rt := t.TempDir()
	spec := filepath.Join(t.TempDir(), "attach.yaml")
	if err := os.WriteFile(spec, []byte(`api_version: v1
kind: pipeline
name: att
sandbox:
  memory_mb: 256
pipeline:
  boxes:
    - name: open
      exec: [sh, -c, "echo hello-from-open; while sleep 1; do echo tick; done"]
      sandbox:
        attach_shell: true
    - name: closed
      exec: [sh, -c, "echo hello-from-closed; sleep 600"]
  stages:
    - fan_out: [open, closed]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd := exec.Command(bin, "run", "--file", spec, "--progress", "plain")
	runCmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	var runErr bytes.Buffer
	runCmd.Stderr = &runErr
	if err := runCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer runCmd.Process.Kill()

	// Both stages become attachable once their VMs are up.
	deadline := time.Now().Add(4 * time.Minute)
	var list result
	for {
		list = voidboxIn(t, rt, "attach", "--list")
		if strings.Contains(list.stdout, "att/open") && strings.Contains(list.stdout, "att/closed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stages never listed: %q; run: %s", list.stdout, runErr.String())
		}
		time.Sleep(time.Second)
	}
	if !strings.Contains(list.stdout, "att/open  attempt 1") || !strings.Contains(list.stdout, "shell allowed") ||
		strings.Count(list.stdout, "shell allowed") != 1 {
		t.Errorf("list: %q", list.stdout)
	}

	// Follow: the history (its first line) and live output.
	f := exec.Command(bin, "attach", "att/open")
	f.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	out, _ := f.StdoutPipe()
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	for got := false; !got; {
		select {
		case l := <-lines:
			seen = append(seen, l)
			got = strings.Contains(strings.Join(seen, "\n"), "[open] hello-from-open") && strings.Contains(l, "[open] tick")
		case <-time.After(time.Minute):
			t.Fatalf("follow showed %q", seen)
		}
	}
	f.Process.Signal(syscall.SIGINT)
	f.Wait()

	// A shell only where attach_shell allows it.
	r := voidboxIn(t, rt, "attach", "att/closed", "--shell")
	if r.code == 0 || !strings.Contains(r.stderr, `stage "closed" does not allow a shell: set sandbox.attach_shell: true`) {
		t.Errorf("shell into closed: %d %q", r.code, r.stderr)
	}
	tm := newTerm(t, 80, 24, rt, shellQuote(bin, "attach", "att/open", "--shell"))
	tm.waitText("open:/workspace$", time.Minute)
	tm.keys("stty size; echo in-$((6*7)); ps | grep -c 'while sleep'", "Enter")
	tm.waitText("24 80\nin-42\n", 30*time.Second)
	tm.keys("exit 4", "Enter")
	if code := tm.exited(time.Minute); code != 4 {
		t.Errorf("attach shell exit status %d, want 4", code)
	}
	if qemu := qemuPIDs(t, rt); len(qemu) != 2 {
		t.Fatalf("after leaving the shell: %d VMs, want the run's 2", len(qemu))
	}
	qemu := qemuPIDs(t, rt)
	runCmd.Process.Signal(syscall.SIGINT)
	runCmd.Wait()
	for _, pid := range qemu {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("qemu %d still running", pid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(left) > 0 {
		t.Errorf("runtime dirs left: %v", left)
	}
	if r := voidboxIn(t, rt, "attach", "att/open"); r.code == 0 || !strings.Contains(r.stderr, "no running stage to attach to") {
		t.Errorf("attach after the run: %d %q", r.code, r.stderr)
	}
}
