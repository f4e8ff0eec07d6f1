package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/vmtest"
)

// bin is the voidbox binary under test, built once with its guest init
// next to it (where an installed voidbox finds it).
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "voidbox-e2e-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "voidbox")
	build := func(out, pkg string, env ...string) {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, err)
			os.Exit(1)
		}
	}
	build(bin, ".")
	build(filepath.Join(dir, "voidbox-guest"), "../voidbox-guest", "CGO_ENABLED=0")
	build(filepath.Join(dir, "voidbox-agent"), "../voidbox-agent", "CGO_ENABLED=0")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// voidbox runs the binary with a private runtime dir and returns its result.
// Tests whose commands boot a VM call vmtest.Setup first; the others (bad
// flags, spec errors) run even where VM tests are opted out.
func voidbox(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return run(t, t.TempDir(), stdin, args...)
}

// voidboxIn is voidbox with a given runtime dir.
func voidboxIn(t *testing.T, rt string, args ...string) result {
	t.Helper()
	return run(t, rt, "", args...)
}

func run(t *testing.T, rt, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running voidbox: %v", err)
	}
	return result{code, out.String(), errb.String()}
}

func TestExecE2E(t *testing.T) {
	kernel := vmtest.Setup(t).KernelRelease
	t.Run("uname -r is the guest kernel", func(t *testing.T) {
		r := voidbox(t, "", "exec", "--", "uname", "-r")
		host, _ := exec.Command("uname", "-r").Output()
		if r.code != 0 || strings.TrimSpace(r.stdout) != kernel || kernel == strings.TrimSpace(string(host)) {
			t.Fatalf("exit %d stdout %q stderr %q (guest kernel %s)", r.code, r.stdout, r.stderr, kernel)
		}
	})
	t.Run("exit code passes through", func(t *testing.T) {
		if r := voidbox(t, "", "exec", "--", "sh", "-c", "exit 7"); r.code != 7 {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("runs as uid 1000", func(t *testing.T) {
		if r := voidbox(t, "", "exec", "--", "id", "-u"); r.code != 0 || r.stdout != "1000\n" {
			t.Fatalf("exit %d stdout %q", r.code, r.stdout)
		}
	})
	t.Run("piped stdin is forwarded", func(t *testing.T) {
		if r := voidbox(t, "hello world", "exec", "--", "wc", "-c"); strings.TrimSpace(r.stdout) != "11" {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("command not found", func(t *testing.T) {
		r := voidbox(t, "", "exec", "--", "nope-not-here")
		if r.code != 127 || !strings.Contains(r.stderr, "command not found") {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r := voidbox(t, "", "exec", "--timeout", "2s", "--", "sleep", "60")
		if r.code != 124 || !strings.Contains(r.stderr, "timed out") {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("output over the cap is truncated with a notice", func(t *testing.T) {
		r := voidbox(t, "", "exec", "--output-limit", "1K", "--", "head", "-c", "100000", "/dev/zero")
		if r.code != 0 || len(r.stdout) != 1024 || !strings.Contains(r.stderr, "stdout truncated") {
			t.Fatalf("exit %d kept %d bytes stderr %q", r.code, len(r.stdout), r.stderr)
		}
	})
	t.Run("json result", func(t *testing.T) {
		r := voidbox(t, "", "exec", "--json", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
		var rep struct {
			ExitCode int    `json:"exit_code"`
			Stdout   string `json:"stdout"`
			Stderr   string `json:"stderr"`
			Kernel   string `json:"kernel"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 3 || rep.ExitCode != 3 ||
			rep.Stdout != "out\n" || rep.Stderr != "err\n" || rep.Kernel != kernel {
			t.Fatalf("exit %d json %q (%v)", r.code, r.stdout, err)
		}
	})
}

func TestExecBadInputE2E(t *testing.T) {
	r := voidbox(t, "", "exec", "--memory", "1K", "--cpus", "0", "--timeout", "-5s", "--", "true")
	if r.code != 2 {
		t.Fatalf("exit %d", r.code)
	}
	for _, flag := range []string{"--memory", "--cpus", "--timeout"} {
		if !strings.Contains(r.stderr, flag) {
			t.Errorf("error does not name %s: %q", flag, r.stderr)
		}
	}
	r = voidbox(t, "", "exec")
	if r.code != 2 {
		t.Fatalf("exec without a command: exit %d %q", r.code, r.stderr)
	}
	t.Setenv("VOIDBOX_QEMU", "/nonexistent/qemu")
	r = voidbox(t, "", "exec", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "/nonexistent/qemu") {
		t.Fatalf("missing qemu: exit %d stderr %q", r.code, r.stderr)
	}
}

// TestInterruptE2E: Ctrl-C (SIGINT) while a command runs kills it, stops the
// VM and leaves no QEMU process or runtime directory behind.
func TestInterruptE2E(t *testing.T) {
	vmtest.Setup(t)
	rt := t.TempDir()
	cmd := exec.Command(bin, "exec", "--", "sh", "-c", "echo ready; sleep 300")
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	stdout, _ := cmd.StdoutPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line == "ready\n"
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("unexpected first line; stderr %q", errb.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("command never started; stderr %q", errb.String())
	}
	qemu := qemuPIDs(t, rt)
	if len(qemu) != 1 {
		t.Fatalf("want one qemu for the VM, found %v", qemu)
	}
	cmd.Process.Signal(syscall.SIGINT)
	start := time.Now()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 || time.Since(start) > 15*time.Second {
		t.Fatalf("after SIGINT: %v after %v; stderr %q", err, time.Since(start), errb.String())
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

// qemuPIDs finds the QEMU processes of runtime dir rt: its command line
// names rt, or (a confined QEMU, handed descriptors instead of paths) its
// environment, inherited from voidbox, does.
func qemuPIDs(t *testing.T, rt string) []int {
	t.Helper()
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("qemu-system")) {
			continue
		}
		env, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "environ"))
		inRT := bytes.Contains(append([]byte{0}, env...), []byte("\x00XDG_RUNTIME_DIR="+rt+"\x00"))
		if !bytes.Contains(b, []byte(rt)) && !inRT {
			continue
		}
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
		pids = append(pids, pid)
	}
	return pids
}

// TestParentDeathE2E: if voidbox is killed outright (SIGKILL, no chance to
// clean up), its QEMU dies with it, and the next voidbox removes the stale
// runtime directory.
func TestParentDeathE2E(t *testing.T) {
	vmtest.Setup(t)
	rt := t.TempDir()
	cmd := exec.Command(bin, "exec", "--", "sh", "-c", "echo ready; sleep 300")
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		t.Fatalf("first line %q", line)
	}
	qemu := qemuPIDs(t, rt)
	if len(qemu) != 1 {
		t.Fatalf("qemu processes: %v", qemu)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(qemu[0], 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("qemu %d outlived its killed parent", qemu[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if left, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(left) != 1 {
		t.Fatalf("expected the killed run's dir to remain until the next run, got %v", left)
	}
	if r := voidboxIn(t, rt, "exec", "--", "true"); r.code != 0 {
		t.Fatalf("next run: exit %d %q", r.code, r.stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(left) != 0 {
		t.Fatalf("stale runtime dir not swept: %v", left)
	}
}
