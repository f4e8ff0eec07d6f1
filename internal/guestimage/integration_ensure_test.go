package guestimage

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/voidbox/voidbox/internal/deb"
)

func TestIntegrationEnsureDebian(t *testing.T) {
	a := realArtifacts(t)
	t.Logf("cold Ensure (two racing calls): %v; warm Ensure: %v", shared.cold, shared.warm)
	t.Logf("summary: %s", a.Summary())
	a0, a1 := *shared.first[0], *shared.first[1]
	a0.Cached, a1.Cached = false, false
	if !reflect.DeepEqual(a0, a1) {
		t.Errorf("racing Ensure calls disagree:\n%+v\n%+v", shared.first[0], shared.first[1])
	}
	if shared.first[0].Cached == shared.first[1].Cached {
		t.Errorf("racing Ensure calls: want exactly one to build, got Cached=%v and %v", shared.first[0].Cached, shared.first[1].Cached)
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

// TestIntegrationImageContents reads back the real image: Debian's modules in dependency order under
// /lib/modules/<release>, busybox applets, and the guest init as /init.
func TestIntegrationImageContents(t *testing.T) {
	a := realArtifacts(t)
	e := initramfsEntries(t, a)
	if e["init"].mode != cpio.TypeReg|0o755 || e["init"].data != "#!/bin/sh\necho agent stand-in\n" {
		t.Errorf("/init = %+v", e["init"])
	}
	for _, applet := range []string{"bin/sh", "bin/cat", "usr/bin/id", "bin/uname", "sbin/poweroff", "sbin/insmod"} {
		if e[applet].link != "/bin/busybox" {
			t.Errorf("/%s = %+v, want a link to /bin/busybox", applet, e[applet])
		}
	}
	if bb := e["bin/busybox"]; len(bb.data) < 500_000 || !strings.HasPrefix(bb.data, "\x7fELF") {
		t.Errorf("/bin/busybox: %d bytes", len(bb.data))
	}
	var m manifest
	if err := json.Unmarshal([]byte(e["etc/voidbox/modules.json"].data), &m); err != nil {
		t.Fatal(err)
	}
	if m.Kernel != a.KernelRelease {
		t.Errorf("manifest kernel %q, artifacts %q", m.Kernel, a.KernelRelease)
	}
	pos := map[string]int{}
	for i, mod := range m.Modules {
		pos[mod.Name] = i
		ko, ok := e[strings.TrimPrefix(mod.Path, "/")]
		if !ok || !strings.HasPrefix(mod.Path, "/lib/modules/"+a.KernelRelease+"/kernel/") || !strings.HasPrefix(ko.data, "\x7fELF") {
			t.Errorf("%s: %s not in the image as an ELF module", mod.Name, mod.Path)
		}
		for _, d := range mod.Deps {
			if _, ok := pos[d]; !ok {
				t.Errorf("%s comes before its dependency %s", mod.Name, d)
			}
		}
	}
	set := realModules()
	for _, n := range set.Boot {
		if i, ok := pos[n]; !ok || !m.Modules[i].Boot {
			t.Errorf("boot module %s missing or not marked boot", n)
		}
	}
	for _, n := range set.OnDemand {
		if i, ok := pos[n]; !ok || m.Modules[i].Boot {
			t.Errorf("on-demand module %s missing or marked boot", n)
		}
	}
	// ext4 needs crc32c at mount time; the softdep must have pulled a provider in before it.
	if i, ok := pos["crc32c_generic"]; !ok || i > pos["ext4"] {
		t.Errorf("crc32c_generic not loaded before ext4: %v", pos)
	}
}

// TestIntegrationKernelPin: $VOIDBOX_KERNEL_PACKAGE pins the concrete kernel package; set-up records
// it under the pinned name, reuses the files it already has, and Inspect (doctor, version) reports
// the pin. A pin apt does not know is a clear error.
func TestIntegrationKernelPin(t *testing.T) {
	a := realArtifacts(t)
	name, _, _ := strings.Cut(a.KernelPackage, "=")
	t.Setenv(KernelEnv, name)
	pinned, err := Ensure(context.Background(), Options{CacheDir: shared.cacheDir, GuestInit: shared.guestInit, Modules: realModules()})
	if err != nil {
		t.Fatal(err)
	}
	if pinned.KernelPackage != a.KernelPackage || pinned.Kernel != a.Kernel || !pinned.Cached {
		t.Errorf("pinned to %s: got %s (%s), cached %v; want %s (%s) reused", name, pinned.KernelPackage, pinned.Kernel, pinned.Cached, a.KernelPackage, a.Kernel)
	}
	st, err := Inspect(shared.cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Pinned || st.KernelRequest != name || st.KernelPackage != a.KernelPackage || st.KernelRelease != a.KernelRelease ||
		!strings.Contains(st.Summary(), "pinned by "+KernelEnv) {
		t.Errorf("inspect with the pin: %+v (%s)", st, st.Summary())
	}
	t.Setenv(KernelEnv, "linux-image-0.0.0-99-voidbox-absent")
	_, err = Ensure(context.Background(), Options{CacheDir: shared.cacheDir, GuestInit: shared.guestInit, Modules: realModules()})
	if !errors.Is(err, deb.ErrNotFound) || !strings.Contains(err.Error(), "linux-image-0.0.0-99-voidbox-absent") {
		t.Errorf("unknown pinned kernel: %v", err)
	}
	if _, err := Inspect(shared.cacheDir); err == nil {
		t.Error("inspect with an unknown pin: no error")
	}
	t.Setenv(KernelEnv, "")
	if st, err := Inspect(shared.cacheDir); err != nil || st.Pinned || st.KernelPackage != a.KernelPackage {
		t.Errorf("inspect without the pin: %+v, %v", st, err)
	}
}
