package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// withInit returns the prepared initramfs followed by an archive whose
// /init is script (the kernel unpacks archives in order; the last wins).
func withInit(t *testing.T, script string) string {
	t.Helper()
	base, err := os.ReadFile(vmtest.Setup(t).Initramfs)
	if err != nil {
		t.Fatal(err)
	}
	tree := guestimage.NewTree()
	tree.File("init", 0o755, []byte(script))
	buf := bytes.NewBuffer(base)
	if err := tree.WriteTo(context.Background(), buf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "initramfs")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStuckBootIsKilled: a guest whose init never answers is killed at the
// boot timeout whether it sleeps or spins, and the error carries its
// console tail.
func TestStuckBootIsKilled(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	r := vmtest.Setup(t)
	for _, c := range []struct{ name, script string }{
		{"halted", "#!/bin/sh\necho 'voidbox-test: stuck asleep'\nexec sleep 1000\n"},
		{"spinning", "#!/bin/sh\necho 'voidbox-test: stuck spinning'\nwhile :; do :; done\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := vmtest.Host(t).Config("stuck", policy.Sandbox{}, r.Kernel, withInit(t, c.script))
			cfg.BootTimeout = 8 * time.Second
			start := time.Now()
			_, err := sandbox.Boot(context.Background(), cfg)
			took := time.Since(start)
			var be *sandbox.BootError
			if !errors.As(err, &be) || !strings.Contains(be.Reason, fmt.Sprintf("did not answer within %v", cfg.BootTimeout)) ||
				!strings.Contains(be.ConsoleTail, "voidbox-test: stuck") {
				t.Fatalf("want a boot timeout with the console tail, got %v", err)
			}
			if took > 5*cfg.BootTimeout+5*time.Second {
				t.Fatalf("killed after %v, past the wall cap", took)
			}
			t.Logf("killed after %v: %s", took.Round(100*time.Millisecond), be.Reason)
		})
	}
}

// TestSlowBootOnALoadedHostIsNotKilled: a boot that shares its core with
// a busy loop takes longer in wall time than its boot timeout, which is set
// above the CPU time a boot needs here (measured first); the time it spent
// waiting for the core is not held against it.
func TestSlowBootOnALoadedHostIsNotKilled(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	r := vmtest.Setup(t)
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		t.Fatalf("this test pins QEMU to a core with taskset (util-linux): %v", err)
	}
	// What one boot costs in CPU on this host now (TCG: ~2.5 s when quiet).
	sb, err := sandbox.Boot(context.Background(), vmtest.Host(t).Config("calibrate", policy.Sandbox{}, r.Kernel, r.Initramfs))
	if err != nil {
		t.Fatal(err)
	}
	need := cpuTime(t, sb.Info().QEMUPID)
	sb.Close()
	// The slim kernel boots in under a second of CPU: a floor of 1s keeps
	// the timeout below the wall time of a boot that shares its core.
	timeout := max(time.Second, need*3/2)

	// QEMU may run jailed under a uid of its own (internal/confine), which
	// must be able to reach the wrapper: the test's directories are 0700.
	wdir := t.TempDir()
	for _, d := range []string{filepath.Dir(wdir), wdir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := filepath.Join(wdir, "qemu-on-cpu0")
	script := "#!/bin/sh\nexec " + taskset + " -c 0 " + r.QEMU + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	hog := exec.Command(taskset, "-c", "0", "sh", "-c", "while :; do :; done")
	if err := hog.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { hog.Process.Kill(); hog.Wait() }()
	cfg := vmtest.Host(t).Config("loaded", policy.Sandbox{}, r.Kernel, r.Initramfs)
	cfg.QEMU = wrapper
	cfg.BootTimeout = timeout
	sb, err = sandbox.Boot(context.Background(), cfg)
	if err != nil {
		t.Fatalf("a boot needing %v of CPU, sharing its core, was killed: %v", need, err)
	}
	defer sb.Close()
	boot := sb.Info().BootTime
	t.Logf("a boot needing %v of CPU booted in %v of wall time with a %v boot timeout",
		need.Round(100*time.Millisecond), boot.Round(100*time.Millisecond), timeout.Round(100*time.Millisecond))
	if boot <= timeout {
		t.Fatalf("booted in %v: the core was not loaded enough to show anything", boot)
	}
	if err := sb.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// cpuTime is the CPU time process pid has used (proc(5) stat: utime + stime).
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}
