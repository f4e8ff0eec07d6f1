package sandbox_test

import (
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/setup"
)

// TestGuestKernelVM: the VM boots the kernel $VOIDBOX_KERNEL chose (so a
// test run under VOIDBOX_KERNEL=slim really is one): the slim kernel has
// no module support and the generic one loads its boot modules.
func TestGuestKernelVM(t *testing.T) {
	kernel, err := setup.KernelChoice("")
	if err != nil {
		t.Fatal(err)
	}
	b := bootNet(t, "kernel", policy.Sandbox{}, nil)
	rel := strings.TrimSpace(b.ok(t, "uname", "-r"))
	code, mods := b.run(t, "cat", "/proc/modules")
	t.Logf("%s kernel: %s", kernel, rel)
	switch kernel {
	case setup.KernelSlim:
		if !strings.HasSuffix(rel, "-voidbox-slim") {
			t.Errorf("VOIDBOX_KERNEL=slim booted %s", rel)
		}
		if code == 0 {
			t.Errorf("the slim kernel has module support: /proc/modules %q", mods)
		}
	default:
		if strings.Contains(rel, "voidbox-slim") {
			t.Errorf("the generic kernel is %s", rel)
		}
		if code != 0 || !strings.Contains(mods, "virtio_console") {
			t.Errorf("generic kernel: /proc/modules (exit %d) lacks virtio_console: %q", code, mods)
		}
	}
}
