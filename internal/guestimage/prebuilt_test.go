package guestimage

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnsurePrebuiltKernel: with a prebuilt kernel (everything built in)
// the image boots that vmlinux, downloads no kernel package, carries no
// module and says so in its manifest; its key differs from the generic
// image's and from another build's.
func TestEnsurePrebuiltKernel(t *testing.T) {
	arch := newTestArchive(t)
	generic, err := Ensure(context.Background(), arch.options())
	if err != nil {
		t.Fatal(err)
	}
	vmlinux := filepath.Join(t.TempDir(), "vmlinux")
	if err := os.WriteFile(vmlinux, []byte("\x7fELF slim"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := arch.options()
	o.Prebuilt = &PrebuiltKernel{Vmlinux: vmlinux, Release: "6.1.192-voidbox-slim", ID: "6.1.192-voidbox-slim@aaaaaaaaaaaa"}
	downloads := arch.src.totalDownloads()
	a, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kernel != vmlinux || a.KernelRelease != "6.1.192-voidbox-slim" || a.KernelPackage != o.Prebuilt.ID || a.BzImage != "" {
		t.Errorf("artifacts: kernel %s release %s package %s bzimage %q", a.Kernel, a.KernelRelease, a.KernelPackage, a.BzImage)
	}
	if n := arch.src.totalDownloads(); n != downloads {
		t.Errorf("%d downloads for a prebuilt kernel", n-downloads)
	}
	if a.Digest == generic.Digest {
		t.Error("the slim image has the generic image's key")
	}
	entries := initramfsEntries(t, a)
	var m manifest
	if err := json.Unmarshal([]byte(entries["etc/voidbox/modules.json"].data), &m); err != nil {
		t.Fatal(err)
	}
	if !m.Builtin || len(m.Modules) != 0 || m.Kernel != "6.1.192-voidbox-slim" {
		t.Errorf("manifest %+v", m)
	}
	for name := range entries {
		if strings.HasSuffix(name, ".ko") || strings.HasSuffix(name, ".ko.xz") {
			t.Errorf("module %s in an image of a kernel with everything built in", name)
		}
	}
	o.Prebuilt = &PrebuiltKernel{Vmlinux: vmlinux, Release: "6.1.192-voidbox-slim", ID: "6.1.192-voidbox-slim@bbbbbbbbbbbb"}
	b, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if b.Digest == a.Digest {
		t.Error("two slim builds share an image key")
	}
	o.Prebuilt = &PrebuiltKernel{Vmlinux: filepath.Join(t.TempDir(), "gone"), Release: "x", ID: "y"}
	if _, err := Ensure(context.Background(), o); err == nil || !strings.Contains(err.Error(), "prebuilt kernel") {
		t.Errorf("missing prebuilt vmlinux: %v", err)
	}
}
