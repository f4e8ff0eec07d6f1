package sandboxtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/sandbox/sandboxtest"
)

// TestWedgedGuestIsStopped: a guest that never reports a command's timeout
// (a wedged or lying init) gets its VM stopped once the grace past the
// limit is over, and every later call says why instead of waiting on it.
func TestWedgedGuestIsStopped(t *testing.T) {
	g := sandboxtest.New()
	g.Handle("hang", func(ctx context.Context, p *sandboxtest.Process) int {
		<-ctx.Done() // ignores the request's time limit, as a wedged guest would
		return 0
	})
	sb, err := g.Boot(context.Background(), sandbox.Config{Name: "wedged", Policy: policy.Sandbox{MemoryMiB: 256}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	start := time.Now()
	_, err = sb.Exec(context.Background(), sandbox.Cmd{Args: []string{"hang"}, Timeout: 500 * time.Millisecond})
	if !errors.Is(err, sandbox.ErrVMGone) || !strings.Contains(err.Error(), "the VM was stopped") {
		t.Fatalf("exec of a command the guest never ends: %v", err)
	}
	if took := time.Since(start); took > time.Minute {
		t.Fatalf("the host waited %v", took)
	}
	select {
	case <-sb.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the VM is still running after it was declared stopped")
	}
	_, err = sb.Exec(context.Background(), sandbox.Cmd{Args: []string{"hang"}})
	if !errors.Is(err, sandbox.ErrVMGone) || !strings.Contains(err.Error(), "did not end hang") {
		t.Fatalf("a later exec: %v", err)
	}
}
