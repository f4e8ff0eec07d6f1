package voidbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// hostConfig is the host of a run that boots from vmtest's image.
func hostConfig(t *testing.T) voidbox.HostOptions {
	c := vmConfig(t, "")
	return voidbox.HostOptions{Image: c.Image, QEMU: c.Host.QEMU}
}

// vmConfig is a sandbox config that boots from the image vmtest prepared
// (failing, never skipping, when the host cannot boot VMs).
func vmConfig(t *testing.T, name string) voidbox.Config {
	t.Helper()
	r := vmtest.Setup(t)
	return voidbox.Config{Name: name, Image: voidbox.Image{Kernel: r.Kernel, Initramfs: r.Initramfs}, Host: voidbox.HostOptions{QEMU: r.QEMU}}
}

// vmBoot starts a sandbox that is closed when the test ends.
func vmBoot(t *testing.T, cfg voidbox.Config) *voidbox.Sandbox {
	t.Helper()
	sb, err := voidbox.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("booting sandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

func sh(name, script string) *voidbox.Box {
	return voidbox.NewBox(name).Exec("sh", "-c", script).Memory(256)
}

// TestPipelineFanOutVM: data flows stage to stage; a fan-out's outputs reach
// the next stage as a JSON array in declaration order, whatever order the
// branches finish in.
func TestPipelineFanOutVM(t *testing.T) {
	p := voidbox.NewPipeline("fan").Pipe(sh("produce", `echo '{"n": 21}' > /workspace/output.json`)).
		FanOut(
			sh("slow", `sleep 3; sed 's/21/"slow"/' /workspace/input.json`),
			sh("fast", `sed 's/21/"fast"/' /workspace/input.json > /workspace/output.json`),
		).
		Pipe(sh("merge", `cat /workspace/input.json`))
	rep, err := p.Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	if err := json.Unmarshal(rep.Output, &got); err != nil {
		t.Fatalf("merge output %q: %v", rep.Output, err)
	}
	if len(got) != 2 || got[0]["n"] != "slow" || got[1]["n"] != "fast" {
		t.Fatalf("merge saw %q, want [slow, fast] in declaration order", rep.Output)
	}
	for _, s := range rep.Stages {
		if s.Status != voidbox.StatusSucceeded || s.Attempts != 1 {
			t.Errorf("stage %s: %s after %d attempts", s.Name, s.Status, s.Attempts)
		}
	}
}

// TestPipelineRetryTimeoutVM: a stage that fails once succeeds on retry (a
// fresh VM per attempt); a stage that runs past its timeout fails the run
// and its dependents are skipped, not run.
func TestPipelineRetryTimeoutVM(t *testing.T) {
	flaky := sh("flaky", `echo attempt $VOIDBOX_ATTEMPT; [ "$VOIDBOX_ATTEMPT" -ge 2 ]`).Retries(2, 100*time.Millisecond)
	rep, err := voidbox.NewPipeline("retry").Pipe(flaky).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Stages[0]; s.Status != voidbox.StatusSucceeded || s.Attempts != 2 || strings.TrimSpace(string(rep.Output)) != "attempt 2" {
		t.Fatalf("flaky stage: %s after %d attempts, output %q", s.Status, s.Attempts, rep.Output)
	}

	slow := sh("slow", `sleep 300`).Timeout(20 * time.Second)
	p := voidbox.NewPipeline("timeout").Pipe(slow).Pipe(sh("after", "echo never"))
	rep, err = p.Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t)})
	if err == nil || rep == nil || rep.Status != voidbox.StatusFailed {
		t.Fatalf("want a failed run, got %v / %+v", err, rep)
	}
	if s := rep.Stages[0]; s.Status != voidbox.StatusFailed || !strings.Contains(s.Error, "timed out after 20s") {
		t.Fatalf("slow stage: %s %q", s.Status, s.Error)
	}
	if s := rep.Stages[1]; s.Status != voidbox.StatusSkipped {
		t.Fatalf("dependent stage: %s", s.Status)
	}
}

// TestPipelineCancelVM: cancelling mid fan-out stops every VM promptly,
// reports the run as cancelled and leaves no runtime directory behind.
func TestPipelineCancelVM(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	started := map[string]bool{} // guarded by mu
	var cancelledAt time.Time    // guarded by mu
	sink := voidbox.EventSinkFunc(func(e voidbox.Event) {
		if e.Type() != "exec.output" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		started[e.Stage] = true
		if len(started) == 2 && cancelledAt.IsZero() {
			cancelledAt = time.Now()
			cancel()
		}
	})
	p := voidbox.NewPipeline("cancel").Pipe(sh("root", "true")).FanOut(sh("b", "echo up; sleep 300"), sh("c", "echo up; sleep 300"))
	rep, err := p.Run(ctx, voidbox.RunOptions{Host: hostConfig(t), Events: sink})
	returned := time.Now()
	if !errors.Is(err, context.Canceled) || rep == nil || rep.Status != voidbox.StatusCancelled {
		t.Fatalf("want a cancelled run, got %v / %+v", err, rep)
	}
	mu.Lock()
	defer mu.Unlock()
	if cancelledAt.IsZero() || returned.Sub(cancelledAt) > 10*time.Second {
		t.Fatalf("run returned %v after the cancel", returned.Sub(cancelledAt))
	}
	if left, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(left) != 0 {
		t.Fatalf("VM runtime dirs left behind: %v", left)
	}
}
