package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/vmtest"
)

// started is a voidbox process running in the background.
type started struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	code   int
	stdout bytes.Buffer
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs voidbox args in runtime dir rt without waiting for it.
func start(t *testing.T, rt string, args ...string) *started {
	t.Helper()
	s := &started{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := s.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			s.code = ee.ExitCode()
		}
		close(s.done)
	}()
	t.Cleanup(func() { s.cmd.Process.Kill(); <-s.done })
	return s
}

// wait waits for s to exit (at most d).
func (s *started) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(d):
		t.Fatalf("voidbox %v still running after %v; stderr %q", s.cmd.Args[1:], d, s.stderr.String())
		return -1
	}
}

// waitFor waits until cond holds (at most d).
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shortDir is a runtime dir short enough for QEMU's socket paths (a long
// one makes vmm fall back to $TMPDIR/voidbox-<uid>).
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "vb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// slots lists the tickets and slots in rt's admission directory.
func slots(rt string) []string {
	des, _ := os.ReadDir(filepath.Join(rt, "voidbox", "admission"))
	var out []string
	for _, de := range des {
		if de.Name() != "lock" {
			out = append(out, de.Name())
		}
	}
	return out
}

// holdMemory starts `voidbox exec` of a 256 MiB VM that sleeps, with a
// memory budget that fits one such VM, and waits until its command runs.
func holdMemory(t *testing.T, rt string) *started {
	t.Helper()
	s := start(t, rt, "exec", "--memory", "256M", "--memory-budget", "500M", "--", "sh", "-c", "echo up >&2; sleep 600")
	waitFor(t, 2*time.Minute, "the holder's command never ran", func() bool { return strings.Contains(s.stderr.String(), "up\n") })
	return s
}

// TestAdmissionE2E: VM starts of separate voidbox processes share the
// host's boot slots and memory: they queue and all finish, a killed holder
// gives its slot back, a wait can be interrupted without a trace, and a box
// larger than the whole budget is refused at once.
func TestAdmissionE2E(t *testing.T) {
	vmtest.Setup(t)
	t.Run("three processes share one boot slot", func(t *testing.T) {
		rt := shortDir(t)
		var ps []*started
		for range 3 {
			ps = append(ps, start(t, rt, "exec", "--boot-slots", "1", "--json", "--", "echo", "ok"))
		}
		waited := 0
		for _, p := range ps {
			if code := p.wait(t, 5*time.Minute); code != 0 {
				t.Fatalf("exit %d: %s", code, p.stderr.String())
			}
			var rep struct {
				Stdout  string  `json:"stdout"`
				QueueMS float64 `json:"queue_ms"`
			}
			if err := json.Unmarshal(p.stdout.Bytes(), &rep); err != nil || rep.Stdout != "ok\n" {
				t.Fatalf("report %q: %v", p.stdout.String(), err)
			}
			if strings.Contains(p.stderr.String(), "waiting for a VM slot") && rep.QueueMS > 0 {
				waited++
			}
		}
		if waited < 2 {
			t.Fatalf("%d of 3 starts waited for the one boot slot, want 2", waited)
		}
		if left := slots(rt); len(left) != 0 {
			t.Fatalf("admission files left: %v", left)
		}
	})
	t.Run("a killed holder frees its slot", func(t *testing.T) {
		rt := shortDir(t)
		holder := holdMemory(t, rt)
		qemu := qemuPIDs(t, rt)
		waiter := start(t, rt, "exec", "--memory", "256M", "--memory-budget", "500M", "--", "echo", "ok")
		waitFor(t, time.Minute, "the second start never said it waits", func() bool {
			return strings.Contains(waiter.stderr.String(), "waiting for a VM slot")
		})
		holder.cmd.Process.Signal(syscall.SIGKILL)
		if code := waiter.wait(t, 3*time.Minute); code != 0 || waiter.stdout.String() != "ok\n" {
			t.Fatalf("after the holder was killed: exit %d, stdout %q, stderr %q", code, waiter.stdout.String(), waiter.stderr.String())
		}
		for _, pid := range qemu {
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("the killed holder's qemu %d still runs", pid)
			}
		}
		if r := voidboxIn(t, rt, "exec", "--", "true"); r.code != 0 {
			t.Fatalf("a later start: %d %s", r.code, r.stderr)
		}
		if left, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(left) != 0 || len(slots(rt)) != 0 {
			t.Fatalf("left behind: runtime dirs %v, admission files %v", left, slots(rt))
		}
	})
	t.Run("an interrupted wait leaves nothing", func(t *testing.T) {
		rt := shortDir(t)
		holder := holdMemory(t, rt)
		waiter := start(t, rt, "exec", "--memory", "256M", "--memory-budget", "500M", "--", "echo", "ok")
		waitFor(t, time.Minute, "the second start never said it waits", func() bool {
			return strings.Contains(waiter.stderr.String(), "waiting for a VM slot")
		})
		before := slots(rt)
		waiter.cmd.Process.Signal(syscall.SIGINT)
		if code := waiter.wait(t, 15*time.Second); code != 130 {
			t.Fatalf("interrupted wait: exit %d, stderr %q", code, waiter.stderr.String())
		}
		after := slots(rt)
		if len(before) != 2 || len(after) != 1 || !strings.HasPrefix(after[0], "m-") {
			t.Fatalf("admission files while waiting %v, after the interrupt %v; want the holder's reservation only", before, after)
		}
		if dirs, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(dirs) != 1 {
			t.Fatalf("runtime dirs %v, want the holder's only", dirs)
		}
		holder.cmd.Process.Signal(syscall.SIGINT)
		holder.wait(t, 30*time.Second)
		if left := slots(rt); len(left) != 0 {
			t.Fatalf("admission files left: %v", left)
		}
	})
	t.Run("a box larger than the budget is refused at once", func(t *testing.T) {
		began := time.Now()
		r := voidbox(t, "", "exec", "--memory", "2G", "--memory-budget", "1G", "--", "true")
		if r.code != 2 || time.Since(began) > 20*time.Second || !strings.Contains(r.stderr, "2.1 GiB") || !strings.Contains(r.stderr, "1.0 GiB") {
			t.Fatalf("exit %d after %v: %s", r.code, time.Since(began), r.stderr)
		}
	})
	t.Run("ten starts with the image ready wait for no set-up", func(t *testing.T) {
		rt := shortDir(t)
		var ps []*started
		for range 10 {
			ps = append(ps, start(t, rt, "exec", "--", "true"))
		}
		for _, p := range ps {
			if code := p.wait(t, 10*time.Minute); code != 0 {
				t.Fatalf("exit %d: %s", code, p.stderr.String())
			}
			if e := p.stderr.String(); strings.Contains(e, "set-up") || strings.Contains(e, "built") || strings.Contains(e, "building") {
				t.Errorf("a start with the image ready did set-up work: %q", e)
			}
		}
	})
}
