package voidbox

import (
	"bytes"
	"context"
	"errors"
	"github.com/voidbox/voidbox/internal/testgate"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/guestimage"
	"sync"
)

// vmConfig is vmtest.Config for this package's internal tests (vmtest
// imports this package). Like vmtest, it fails — never skips silently — when
// the host cannot boot VMs.
func vmConfig(t *testing.T, name string) Config {
	t.Helper()
	testgate.Skip(t, testgate.SkipVM, "a VM")
	setupOnce.Do(func() { setupRes, setupErr = Setup(context.Background(), SetupOptions{Progress: os.Stderr}) })
	if setupErr != nil {
		t.Fatalf("host cannot boot VMs (VOIDBOX_SKIP_VM_TESTS=1 opts out): %v", setupErr)
	}
	return Config{Name: name, Image: setupRes.Image, QEMU: setupRes.QEMU}
}

var (
	setupOnce sync.Once
	setupRes  *SetupResult
	setupErr  error
)

// assertGone checks that QEMU (by pid) has exited and the runtime dir is gone.
func assertGone(t *testing.T, pid int, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("qemu pid %d still running", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("runtime dir %s left behind (%v)", dir, err)
	}
}

func runtimeDirs(t *testing.T, parent string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(parent, "voidbox", "vm-*"))
	return m
}

// TestKernelPanicDuringSession: a guest that dies mid-session turns the next
// call into ErrVMGone carrying the console tail, and nothing is left behind.
func TestKernelPanicDuringSession(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	cfg := vmConfig(t, "panic")
	ctx := context.Background()
	sb, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	info := sb.Info()
	// Only root in the guest can crash the kernel; the host's provisioning path is root.
	_, _ = sb.execRoot(ctx, "sh", "-c", "echo c > /proc/sysrq-trigger")
	select {
	case <-sb.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("VM still running 30s after the kernel crashed")
	}
	_, err = sb.Exec(ctx, Cmd{Args: []string{"true"}})
	if !errors.Is(err, ErrVMGone) || !strings.Contains(err.Error(), "kernel panicked: sysrq triggered crash") {
		t.Fatalf("want ErrVMGone with the panic in the console tail, got: %v", err)
	}
	assertGone(t, info.QEMUPID, info.RuntimeDir)
	if err := sb.Close(); err != nil {
		t.Fatalf("close after death: %v", err)
	}
}

// TestBootFailureShowsConsole: an init that exits panics the kernel during
// boot; New fails with ErrBoot, the console tail says why, nothing remains.
func TestBootFailureShowsConsole(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	cfg := vmConfig(t, "badinit")
	// The kernel unpacks concatenated archives in order; a later /init wins.
	tree := guestimage.NewTree()
	tree.File("init", 0o755, []byte("#!/bin/sh\necho 'voidbox-test: init is giving up'\nexit 3\n"))
	var overlay bytes.Buffer
	if err := tree.WriteTo(context.Background(), &overlay); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(cfg.Image.Initramfs)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.cpio.gz")
	if err := os.WriteFile(bad, append(base, overlay.Bytes()...), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Image.Initramfs = bad
	cfg.BootTimeout = 60 * time.Second
	start := time.Now()
	_, err = New(context.Background(), cfg)
	var be *BootError
	if !errors.As(err, &be) || !errors.Is(err, ErrBoot) {
		t.Fatalf("want a BootError, got %v", err)
	}
	if !strings.Contains(be.Reason, "panicked during boot: Attempted to kill init") || be.ConsoleTail == "" {
		t.Fatalf("boot error lacks the reason: %v", err)
	}
	if time.Since(start) > 45*time.Second {
		t.Fatalf("took %v to notice a dead guest", time.Since(start))
	}
	if d := runtimeDirs(t, rt); len(d) != 0 {
		t.Fatalf("runtime dirs left behind: %v", d)
	}
}

// TestBootCancelled: cancelling during boot stops QEMU and cleans up.
func TestBootCancelled(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	cfg := vmConfig(t, "cancel")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := New(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
	if d := runtimeDirs(t, rt); len(d) != 0 {
		t.Fatalf("runtime dirs left behind: %v", d)
	}
}

// TestCloseStopsEverything: Close is idempotent and removes QEMU and its dir;
// a closed sandbox refuses work with ErrClosed.
func TestCloseStopsEverything(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	sb, err := New(context.Background(), vmConfig(t, "close"))
	if err != nil {
		t.Fatal(err)
	}
	info := sb.Info()
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	assertGone(t, info.QEMUPID, info.RuntimeDir)
	if _, err := sb.Exec(context.Background(), Cmd{Args: []string{"true"}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("exec after close: %v", err)
	}
}

// TestBootTimeoutShowsConsole: a guest that does not answer within the boot
// timeout fails New with the timeout in the reason and the console's last
// lines, and leaves nothing behind.
func TestBootTimeoutShowsConsole(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	cfg := vmConfig(t, "slowboot")
	cfg.BootTimeout = 1500 * time.Millisecond // well below a TCG boot
	_, err := New(context.Background(), cfg)
	var be *BootError
	if !errors.As(err, &be) || !strings.Contains(be.Reason, "did not answer within 1.5s") {
		t.Fatalf("want a boot timeout, got %v", err)
	}
	if d := runtimeDirs(t, rt); len(d) != 0 {
		t.Fatalf("runtime dirs left behind: %v", d)
	}
}

// TestKVMSmokeBootFallsBack: a host that looks like it has hardware KVM but
// cannot boot a guest with it (here: a fake /dev/kvm) gets TCG after one
// failed smoke boot, says why, and remembers the verdict.
func TestKVMSmokeBootFallsBack(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"dev/kvm", "sys/module/kvm_amd/x"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(root, f), nil, 0o644)
	}
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	os.WriteFile(filepath.Join(root, "proc/cpuinfo"), cpuinfo, 0o644)
	cfg := vmConfig(t, "smoke")
	cfg.CacheDir = t.TempDir()
	cfg.probe.Root = root
	sb, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	info := sb.Info()
	sb.Close()
	t.Logf("reason: %s", info.AccelReason)
	if info.Accel != "tcg" || !strings.Contains(info.AccelReason, "KVM smoke boot failed") {
		t.Fatalf("accel %s: %s", info.Accel, info.AccelReason)
	}
	verdicts, _ := filepath.Glob(filepath.Join(cfg.CacheDir, "accel", "*.json"))
	if len(verdicts) != 1 {
		t.Fatalf("verdict not cached: %v", verdicts)
	}
	sb, err = New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if got := sb.Info().AccelReason; got != info.AccelReason {
		t.Fatalf("second boot: %q", got)
	}
}
