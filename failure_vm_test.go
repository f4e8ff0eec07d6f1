package voidbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// vmConfig is a sandbox config that boots from the image vmtest prepared.
// Like vmtest, it fails — never skips silently — when the host cannot boot
// VMs.
func vmConfig(t *testing.T, name string) Config {
	t.Helper()
	r := vmtest.Setup(t)
	return Config{Name: name, Image: Image{Kernel: r.Kernel, Initramfs: r.Initramfs}, Host: HostOptions{QEMU: r.QEMU}}
}

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
	cfg.Host.BootTimeout = 60 * time.Second
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
	// Well below a TCG boot of either kernel: the generic one answers after
	// about 2.5 s, the slim one after about 1 s.
	cfg.Host.BootTimeout = 300 * time.Millisecond
	_, err := New(context.Background(), cfg)
	var be *BootError
	if !errors.As(err, &be) || !strings.Contains(be.Reason, "did not answer within 300ms") {
		t.Fatalf("want a boot timeout, got %v", err)
	}
	if d := runtimeDirs(t, rt); len(d) != 0 {
		t.Fatalf("runtime dirs left behind: %v", d)
	}
}
