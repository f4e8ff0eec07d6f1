// Package vmtest gives VM integration tests a prepared host. Tests that need
// a VM call Setup; when the host cannot boot VMs the test FAILS, so CI can
// never pass without running them. A developer can opt out explicitly with
// VOIDBOX_SKIP_VM_TESTS=1, which skips loudly — except under CI, where the
// opt-out itself fails the test (internal/testgate).
//
// It depends on internal packages only (not the public API), so the
// engine's own packages can boot VMs in their tests.
package vmtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/claudecode"
	"github.com/voidbox/voidbox/internal/codex"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/setup"
	"github.com/voidbox/voidbox/internal/testgate"
	"github.com/voidbox/voidbox/internal/toolbox"
	"github.com/voidbox/voidbox/internal/vmm"
)

var (
	once   sync.Once
	result *setup.Result
	host   sandbox.Host
	err    error
)

// Setup prepares the host once per test binary — QEMU, the guest image and
// the image of built-in agent stages — and returns the artifacts.
func Setup(t testing.TB) *setup.Result {
	t.Helper()
	testgate.Skip(t, testgate.SkipVM, "a VM")
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		result, err = setup.Run(ctx, setup.Options{Progress: os.Stderr, Agent: true})
		if err != nil {
			return
		}
		host = sandbox.Host{QEMU: result.QEMU, CPUModel: os.Getenv("VOIDBOX_QEMU_CPU"),
			Confine: vmm.ProbeConfinement(ctx, result.QEMU)}
		verdicts := ""
		if root, rerr := guestimage.CacheRoot(""); rerr == nil {
			verdicts = filepath.Join(root, "accel")
		}
		base := host.Config("kvm-smoke", policy.Sandbox{}, result.Kernel, result.Initramfs)
		host.Accel, host.TSCkHz, err = sandbox.ChooseAccel(ctx, vmm.HostProbe{}, os.Getenv("VOIDBOX_ACCEL"), base, verdicts)
	})
	if err != nil {
		t.Fatalf("this test boots a VM and the host is not ready (set VOIDBOX_SKIP_VM_TESTS=1 to opt out): %v", err)
	}
	return result
}

// Host is the prepared host's boot settings (QEMU, accelerator).
func Host(t testing.TB) sandbox.Host {
	t.Helper()
	Setup(t)
	return host
}

// Boot starts a sandbox named name with policy p from the prepared image,
// closed when the test ends.
func Boot(t testing.TB, name string, p policy.Sandbox) *sandbox.Sandbox {
	t.Helper()
	r := Setup(t)
	sb, err := sandbox.Boot(context.Background(), host.Config(name, p, r.Kernel, r.Initramfs))
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

var (
	codexOnce sync.Once
	codexErr  error
)

// CodexImage fetches the codex flavour once per test binary (a 172 MB
// download the first time, cached after). Like Setup it fails, never skips.
func CodexImage(t testing.TB) {
	t.Helper()
	Setup(t)
	codexOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		_, codexErr = codex.Build(ctx, codex.Options{Progress: os.Stderr})
	})
	if codexErr != nil {
		t.Fatalf("building the codex image: %v", codexErr)
	}
}

var (
	toolboxOnce sync.Once
	toolboxImg  *oci.Image
	toolboxErr  error
)

// Toolbox builds the Debian toolbox OCI image (curl, jq, git, python3) and
// its root file system once per test binary, in the default cache (about
// 80 MB of packages downloaded with apt the first time, cached after). Like
// Setup it fails, never skips.
func Toolbox(t testing.TB) *oci.Image {
	t.Helper()
	Setup(t)
	toolboxOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		if toolboxImg, toolboxErr = toolbox.Build(ctx, toolbox.Options{Progress: os.Stderr}); toolboxErr != nil {
			return
		}
		var s *oci.Store
		if s, toolboxErr = oci.Open(""); toolboxErr != nil {
			return
		}
		if _, toolboxErr = s.BuildRootFS(ctx, toolboxImg.Digest, oci.RootFSOptions{Progress: os.Stderr}); toolboxErr == nil {
			toolboxImg, toolboxErr = s.Inspect(toolboxImg.Digest)
		}
	})
	if toolboxErr != nil {
		t.Fatalf("building the toolbox image: %v", toolboxErr)
	}
	return toolboxImg
}
