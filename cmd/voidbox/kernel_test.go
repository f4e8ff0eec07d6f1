package main_test

import (
	"strings"
	"testing"
)

// TestKernelCommands: kernel show in a cache without a slim build says how
// to make one (exit 1, nothing on stdout); --config prints the fragment;
// a bad VOIDBOX_KERNEL is refused by a command that boots, before a boot.
func TestKernelCommands(t *testing.T) {
	cache := t.TempDir()
	r := voidbox(t, "", "kernel", "show", "--cache-dir", cache)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "voidbox kernel build") {
		t.Errorf("show without a build: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = voidbox(t, "", "kernel", "show", "--config")
	if r.code != 0 || !strings.Contains(r.stdout, "CONFIG_MODULES=n") || !strings.Contains(r.stdout, "CONFIG_PVH=y") {
		t.Errorf("show --config: exit %d, %q", r.code, r.stdout)
	}
	t.Setenv("VOIDBOX_KERNEL", "tiny")
	r = voidbox(t, "", "exec", "--", "true")
	if r.code == 0 || !strings.Contains(r.stderr, `guest kernel "tiny" (from $VOIDBOX_KERNEL): want generic or slim`) {
		t.Errorf("bad VOIDBOX_KERNEL: exit %d, stderr %q", r.code, r.stderr)
	}
}
