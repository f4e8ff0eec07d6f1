package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestKVMSmokeBootFallsBack: a host that looks like it has hardware KVM (a
// fake /dev/kvm and kvm_amd) but cannot run guests with it (this one, PVM or
// no KVM at all) falls back to TCG after one failed smoke boot, says why, and
// caches the verdict so the next decision boots nothing.
func TestKVMSmokeBootFallsBack(t *testing.T) {
	r := vmtest.Setup(t)
	root := t.TempDir()
	for _, f := range []string{"dev/kvm", "sys/module/kvm_amd/x"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(root, f), nil, 0o644)
	}
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	os.WriteFile(filepath.Join(root, "proc/cpuinfo"), cpuinfo, 0o644)
	verdicts := t.TempDir()
	probe := vmm.HostProbe{Root: root}
	base := sandbox.Host{QEMU: r.QEMU}.Config("smoke", policy.Sandbox{}, r.Kernel, r.Initramfs)
	choice, _, err := sandbox.ChooseAccel(context.Background(), probe, "", base, verdicts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reason: %s", choice.Reason)
	if choice.Accel != vmm.TCG || !strings.Contains(choice.Reason, "KVM smoke boot failed") {
		t.Fatalf("accel %s: %s", choice.Accel, choice.Reason)
	}
	if files, _ := filepath.Glob(filepath.Join(verdicts, "*.json")); len(files) != 1 {
		t.Fatalf("verdict not cached: %v", files)
	}
	// The cached verdict is used: the file is not rewritten.
	files, _ := filepath.Glob(filepath.Join(verdicts, "*.json"))
	before, _ := os.Stat(files[0])
	again, _, err := sandbox.ChooseAccel(context.Background(), probe, "", base, verdicts)
	after, _ := os.Stat(files[0])
	if err != nil || again != choice || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("second decision: %+v, %v; want the cached %+v", again, err, choice)
	}
}
