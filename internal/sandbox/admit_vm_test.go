package sandbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/admission"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestAdmissionVM: with memory for one 256 MiB VM, a second boot waits
// (saying why), a cancelled wait leaves no ticket and no runtime dir, it is
// admitted once the first VM closes, and a box larger than the whole budget
// is refused at once with the numbers.
func TestAdmissionVM(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	r := vmtest.Setup(t)
	gateDir := t.TempDir()
	gate, err := admission.New(gateDir, admission.Budget{BootSlots: 2, MemoryMiB: admission.Charge(256) + 100})
	if err != nil {
		t.Fatal(err)
	}
	host := vmtest.Host(t)
	host.Admission = gate
	small := policy.Sandbox{MemoryMiB: 256}
	first, err := sandbox.Boot(context.Background(), host.Config("first", small, r.Kernel, r.Initramfs))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	cfg := host.Config("second", small, r.Kernel, r.Initramfs)
	var queued []admission.Status
	cfg.OnQueued = func(st admission.Status) { queued = append(queued, st) }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err = sandbox.Boot(ctx, cfg)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || len(queued) == 0 || queued[0].Reason != admission.WaitMemory {
		t.Fatalf("second boot: %v (queued %+v)", err, queued)
	}
	if left := slotFiles(t, gateDir); len(left) != 1 || !strings.HasPrefix(left[0], "m-") {
		t.Fatalf("after the cancelled wait the gate holds %v, want the first VM's memory only", left)
	}
	if dirs, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-second-*")); len(dirs) != 0 {
		t.Fatalf("runtime dir of a VM that never started: %v", dirs)
	}

	admitted := make(chan time.Duration, 1)
	cfg.OnAdmitted = func(d time.Duration) { admitted <- d }
	go func() { time.Sleep(time.Second); first.Close() }()
	second, err := sandbox.Boot(context.Background(), cfg)
	if err != nil {
		t.Fatalf("second boot after the first closed: %v", err)
	}
	if w := <-admitted; w < 500*time.Millisecond || second.Info().QueueWait.Round(time.Millisecond) != w {
		t.Fatalf("admitted after %v, info says %v", w, second.Info().QueueWait)
	}
	second.Close()
	if left := slotFiles(t, gateDir); len(left) != 0 {
		t.Fatalf("gate still holds %v after both closed", left)
	}

	start := time.Now()
	_, err = sandbox.Boot(context.Background(), host.Config("huge", policy.Sandbox{MemoryMiB: 4096}, r.Kernel, r.Initramfs))
	if !errors.Is(err, admission.ErrTooLarge) || !errors.Is(err, sandbox.ErrInvalid) || time.Since(start) > time.Second ||
		!strings.Contains(err.Error(), "4.1 GiB") || !strings.Contains(err.Error(), "452 MiB") {
		t.Fatalf("a box over the whole budget: %v after %v", err, time.Since(start))
	}
}

// slotFiles lists the gate directory's tickets and slots.
func slotFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.Name() != "lock" {
			out = append(out, de.Name())
		}
	}
	return out
}
