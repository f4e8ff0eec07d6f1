package sandbox_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestKernelPanicDuringSession: a guest that dies mid-session turns the next
// call into ErrVMGone carrying the console tail, and nothing is left behind.
func TestKernelPanicDuringSession(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	r := vmtest.Setup(t)
	ctx := context.Background()
	sb, err := sandbox.Boot(ctx, vmtest.Host(t).Config("panic", policy.Sandbox{}, r.Kernel, r.Initramfs))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	info := sb.Info()
	// Only root in the guest can crash the kernel; the host's provisioning path is root.
	_, _ = sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "echo c > /proc/sysrq-trigger"}, As: sandbox.AsRoot})
	select {
	case <-sb.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("VM still running 30s after the kernel crashed")
	}
	_, err = sb.Exec(ctx, sandbox.Cmd{Args: []string{"true"}})
	if !errors.Is(err, sandbox.ErrVMGone) || !strings.Contains(err.Error(), "kernel panicked: sysrq triggered crash") {
		t.Fatalf("want ErrVMGone with the panic in the console tail, got: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(info.QEMUPID, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("qemu pid %d still running", info.QEMUPID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(info.RuntimeDir); !os.IsNotExist(err) {
		t.Fatalf("runtime dir %s left behind (%v)", info.RuntimeDir, err)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("close after death: %v", err)
	}
}
