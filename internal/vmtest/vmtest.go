// Package vmtest gives VM integration tests a prepared host. Tests that need
// a VM call Setup; when the host cannot boot VMs the test FAILS, so CI can
// never pass without running them. A developer can opt out explicitly with
// VOIDBOX_SKIP_VM_TESTS=1, which skips loudly — except under CI (CI set to
// anything but "" or "false"), where the opt-out itself fails the test.
package vmtest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/claudecode"
	"github.com/voidbox/voidbox/internal/testgate"
)

var (
	once   sync.Once
	result *voidbox.SetupResult
	err    error
)

// Setup prepares the host once per test binary and returns the artifacts.
func Setup(t testing.TB) *voidbox.SetupResult {
	t.Helper()
	testgate.Skip(t, testgate.SkipVM, "a VM")
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		result, err = voidbox.Setup(ctx, voidbox.SetupOptions{Progress: os.Stderr})
	})
	if err != nil {
		t.Fatalf("this test boots a VM and the host is not ready (set VOIDBOX_SKIP_VM_TESTS=1 to opt out): %v", err)
	}
	return result
}

// Config returns a sandbox config using the prepared artifacts.
func Config(t testing.TB, name string) voidbox.Config {
	r := Setup(t)
	return voidbox.Config{Name: name, Image: r.Image, QEMU: r.QEMU}
}

// Boot starts a sandbox that is closed when the test ends.
func Boot(t testing.TB, cfg voidbox.Config) *voidbox.Sandbox {
	t.Helper()
	if cfg.Image.Kernel == "" {
		base := Config(t, cfg.Name)
		cfg.Image, cfg.QEMU = base.Image, base.QEMU
	}
	sb, err := voidbox.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("booting sandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

var (
	claudeOnce sync.Once
	claudeErr  error
)

// ClaudeImage builds the claude-code flavour once per test binary (a ~190 MB
// download the first time, cached after). Like Setup it fails, never skips.
func ClaudeImage(t testing.TB) {
	t.Helper()
	Setup(t)
	claudeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		_, claudeErr = claudecode.BuildImage(ctx, claudecode.Options{Progress: os.Stderr})
	})
	if claudeErr != nil {
		t.Fatalf("building the claude-code image: %v", claudeErr)
	}
}
