package guestimage

import (
	"os"
	"reflect"
	"testing"
)

func TestIntegrationEnsureDebian(t *testing.T) {
	a := realArtifacts(t)
	t.Logf("cold Ensure (two racing calls): %v; warm Ensure: %v", real.cold, real.warm)
	t.Logf("summary: %s", a.Summary())
	a0, a1 := *real.first[0], *real.first[1]
	a0.Cached, a1.Cached = false, false
	if !reflect.DeepEqual(a0, a1) {
		t.Errorf("racing Ensure calls disagree:\n%+v\n%+v", real.first[0], real.first[1])
	}
	if real.first[0].Cached == real.first[1].Cached {
		t.Errorf("racing Ensure calls: want exactly one to build, got Cached=%v and %v", real.first[0].Cached, real.first[1].Cached)
	}
	if !a.Cached {
		t.Errorf("warm Ensure built something")
	}
	for _, p := range []string{a.Kernel, a.BzImage, a.Initramfs} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("artifact missing: %v", err)
		}
	}
	f, err := os.Open(a.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entry, err := checkPVH(f)
	if err != nil || entry == 0 {
		t.Errorf("vmlinux PVH entry = %#x, %v", entry, err)
	}
}
