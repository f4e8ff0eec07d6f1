package guestimage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/voidbox/voidbox/internal/deb"
)

func TestEnsureBuildsImage(t *testing.T) {
	arch := newTestArchive(t)
	var log bytes.Buffer
	o := arch.options()
	o.Progress = &log
	a, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Cached {
		t.Error("cold Ensure reports Cached")
	}
	if a.KernelRelease != testRelease || a.KernelPackage != "linux-image-"+testRelease+"=6.1.1-1" || a.Busybox != "busybox-static=1:1.35.0-4" {
		t.Errorf("artifacts name %q %q %q", a.KernelRelease, a.KernelPackage, a.Busybox)
	}
	vmlinux, err := os.ReadFile(a.Kernel)
	if err != nil || !bytes.Equal(vmlinux, testVmlinux(t, 0x1000000)) {
		t.Errorf("vmlinux is not the ELF inside the bzImage (%v)", err)
	}
	if bz, err := os.ReadFile(a.BzImage); err != nil || !bytes.HasPrefix(bz[offHeaderMagic:], []byte("HdrS")) {
		t.Errorf("bzImage path %s: %v", a.BzImage, err)
	}
	for _, want := range []string{"downloading linux-image-" + testRelease + "=6.1.1-1", "downloading busybox-static", "built base archive"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, log.String())
		}
	}

	e := initramfsEntries(t, a)
	guestInit, _ := os.ReadFile(arch.guestInit)
	checks := map[string]cpioEntry{
		"init":          {mode: cpio.TypeReg | 0o755, data: string(guestInit)},
		"bin/sh":        {mode: cpio.TypeSymlink | 0o777, link: "/bin/busybox"},
		"usr/bin/id":    {mode: cpio.TypeSymlink | 0o777, link: "/bin/busybox"},
		"sbin/poweroff": {mode: cpio.TypeSymlink | 0o777, link: "/bin/busybox"},
		"tmp":           {mode: cpio.TypeDir | cpio.ModeSticky | 0o777},
		"root":          {mode: cpio.TypeDir | 0o700},
		"home/sandbox":  {mode: cpio.TypeDir | 0o755, uid: 1000, gid: 1000},
	}
	for name, want := range checks {
		if got := e[name]; got != want {
			t.Errorf("/%s = %+v, want %+v", name, got, want)
		}
	}
	for _, d := range []string{"proc", "sys", "dev", "run", "workspace", "etc/voidbox", "usr/bin", "usr/sbin", "sbin"} {
		if e[d].mode != cpio.TypeDir|0o755 {
			t.Errorf("/%s: mode %v, want a 0755 directory", d, e[d].mode)
		}
	}
	if bb := e["bin/busybox"]; bb.mode != cpio.TypeReg|0o755 || !strings.Contains(bb.data, "--list-full") {
		t.Errorf("/bin/busybox = mode %v, %d bytes", bb.mode, len(bb.data))
	}
	// The CA bundle is every certificate of the package, in path order,
	// each ending in a newline; other files of the package are not in it.
	wantBundle := testCAs["usr/share/ca-certificates/mozilla/A_Root.crt"] + "\n" + testCAs["usr/share/ca-certificates/mozilla/B_Root.crt"]
	if got := e[CABundlePath]; got.data != wantBundle || got.mode != cpio.TypeReg|0o644 {
		t.Errorf("/%s = %+v, want the bundle %q", CABundlePath, got, wantBundle)
	}
	if a.CACertificates != "ca-certificates=20230311" {
		t.Errorf("CACertificates = %q", a.CACertificates)
	}
	if !strings.Contains(e["etc/hosts"].data, "127.0.0.1\tlocalhost") || e["etc/nsswitch.conf"].data != "hosts: files dns\n" {
		t.Errorf("hosts %q, nsswitch %q", e["etc/hosts"].data, e["etc/nsswitch.conf"].data)
	}
	if !strings.Contains(e["etc/passwd"].data, "sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh\n") ||
		!strings.HasPrefix(e["etc/passwd"].data, "root:x:0:0:") || !strings.Contains(e["etc/group"].data, "sandbox:x:1000:") {
		t.Errorf("passwd/group:\n%s\n%s", e["etc/passwd"].data, e["etc/group"].data)
	}

	var m manifest
	if err := json.Unmarshal([]byte(e["etc/voidbox/modules.json"].data), &m); err != nil {
		t.Fatalf("modules.json: %v", err)
	}
	if m.Kernel != testRelease || !reflect.DeepEqual(m.Modules, a.Modules) {
		t.Errorf("manifest kernel %q, modules differ from Artifacts.Modules", m.Kernel)
	}
	seen := map[string]bool{}
	for _, mod := range m.Modules {
		for _, d := range mod.Deps {
			if !seen[d] {
				t.Errorf("%s listed before its dependency %s", mod.Name, d)
			}
		}
		seen[mod.Name] = true
		ko, ok := e[strings.TrimPrefix(mod.Path, "/")]
		if !ok || !strings.Contains(ko.data, "name="+mod.Name+"\x00") {
			t.Errorf("%s: %s missing from the image or not that module", mod.Name, mod.Path)
		}
	}
	for _, n := range append(DefaultModules().Boot, DefaultModules().OnDemand...) {
		if !seen[n] {
			t.Errorf("default module %s not in the image", n)
		}
	}
	if seen["vsock"] {
		t.Error("vsock is in the image but nobody asked for it")
	}

	// Warm: nothing downloaded, nothing asked, same answer.
	shows := arch.src.count(arch.src.shows, "linux-image-amd64")
	again, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cached || arch.src.totalDownloads() != 3 || arch.src.count(arch.src.shows, "linux-image-amd64") != shows {
		t.Errorf("warm Ensure: cached=%v downloads=%d shows=%d", again.Cached, arch.src.totalDownloads(), arch.src.count(arch.src.shows, "linux-image-amd64"))
	}
	again.Cached = a.Cached
	if !reflect.DeepEqual(a, again) {
		t.Errorf("warm Ensure returned different artifacts:\n%+v\n%+v", a, again)
	}
}

func TestEnsureConcurrentBuildsOnce(t *testing.T) {
	arch := newTestArchive(t)
	const n = 4
	res := make([]*Artifacts, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { res[i], errs[i] = Ensure(context.Background(), arch.options()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	built := 0
	for _, a := range res {
		if !a.Cached {
			built++
		}
		if a.Digest != res[0].Digest || a.Initramfs != res[0].Initramfs || a.Kernel != res[0].Kernel {
			t.Errorf("concurrent Ensure calls disagree: %+v vs %+v", a, res[0])
		}
	}
	if built != 1 || arch.src.count(arch.src.downloads, "linux-image-"+testRelease) != 1 {
		t.Errorf("%d calls built, kernel downloaded %d times; want 1 and 1", built, arch.src.count(arch.src.downloads, "linux-image-"+testRelease))
	}
}

func TestEnsureReusesUnchangedInputs(t *testing.T) {
	arch := newTestArchive(t)
	first, err := Ensure(context.Background(), arch.options())
	if err != nil {
		t.Fatal(err)
	}
	// A new guest init changes the image but not the kernel or busybox.
	if err := os.WriteFile(arch.guestInit, []byte("\x7fELF agent v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	second, err := Ensure(context.Background(), arch.options())
	if err != nil {
		t.Fatal(err)
	}
	if second.Digest == first.Digest || second.Initramfs == first.Initramfs || second.Cached {
		t.Errorf("new guest init: digest %s → %s, cached=%v", first.Digest, second.Digest, second.Cached)
	}
	if arch.src.totalDownloads() != 3 {
		t.Errorf("new guest init caused downloads: %d in total", arch.src.totalDownloads())
	}

	// A wider module set extracts the package again — the copy kept in the
	// cache, without a download — and keeps what was extracted before.
	o := arch.options()
	o.Modules = ModuleSet{Boot: DefaultModules().Boot, OnDemand: append(DefaultModules().OnDemand, "vsock")}
	wide, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if arch.src.count(arch.src.downloads, "linux-image-"+testRelease) != 1 || len(wide.Modules) != len(second.Modules)+1 {
		t.Errorf("adding vsock: kernel downloads %d, modules %d → %d", arch.src.count(arch.src.downloads, "linux-image-"+testRelease), len(second.Modules), len(wide.Modules))
	}
	narrow, err := Ensure(context.Background(), arch.options())
	if err != nil {
		t.Fatal(err)
	}
	if !narrow.Cached || narrow.Digest != second.Digest {
		t.Errorf("back to the default set: cached=%v digest %s, want %s", narrow.Cached, narrow.Digest, second.Digest)
	}

	// An unknown module is an error naming it, and costs no download once the index is cached.
	o.Modules = ModuleSet{Boot: []string{"virtio", "no_such_mod"}}
	before := arch.src.totalDownloads()
	if _, err := Ensure(context.Background(), o); err == nil || !strings.Contains(err.Error(), `"no_such_mod" not found`) {
		t.Errorf("unknown module: %v", err)
	}
	if arch.src.totalDownloads() != before {
		t.Error("unknown module triggered a download")
	}
}

func TestEnsureRecordsAndRefreshesVersions(t *testing.T) {
	arch := newTestArchive(t)
	if _, err := Ensure(context.Background(), arch.options()); err != nil {
		t.Fatal(err)
	}
	// The archive moves on: a new kernel ABI behind the metapackage.
	const newer = "6.1.0-test2-amd64"
	arch.src.add("linux-image-amd64", "6.1.2-1", "", "linux-image-"+newer)
	arch.src.add("linux-image-"+newer, "6.1.2-1", kernelDeb(t, "linux-image-"+newer, "6.1.2-1", 0x1000000))

	pinned, err := Ensure(context.Background(), arch.options())
	if err != nil {
		t.Fatal(err)
	}
	if pinned.KernelPackage != "linux-image-"+testRelease+"=6.1.1-1" || !pinned.Cached {
		t.Errorf("without Refresh: %s cached=%v, want the recorded version from cache", pinned.KernelPackage, pinned.Cached)
	}
	o := arch.options()
	o.Refresh = true
	fresh, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.KernelPackage != "linux-image-"+newer+"=6.1.2-1" {
		t.Errorf("with Refresh: %s", fresh.KernelPackage)
	}
	// Refreshing drops the kernel nobody records any more.
	if _, err := os.Stat(filepath.Dir(pinned.Kernel)); !os.IsNotExist(err) {
		t.Errorf("old kernel directory after refresh: %v", err)
	}
	// The recorded version is now the new one, for runs without Refresh.
	after, err := Ensure(context.Background(), arch.options())
	if err != nil || after.KernelPackage != fresh.KernelPackage || !after.Cached {
		t.Errorf("after refresh: %v %+v", err, after)
	}
}

func TestEnsureRecordedVersionLeftArchive(t *testing.T) {
	arch := newTestArchive(t)
	if _, err := Ensure(context.Background(), arch.options()); err != nil {
		t.Fatal(err)
	}
	// The cached busybox (and the package kept with it) is lost and its
	// version left the archive; a newer one replaced it.
	for _, p := range []string{"busybox", "debs"} {
		if err := os.RemoveAll(filepath.Join(arch.cache, p)); err != nil {
			t.Fatal(err)
		}
	}
	arch.src.forget("busybox-static", "1:1.35.0-4")
	arch.src.add("busybox-static", "1:1.35.0-5", busyboxDeb(t, "1:1.35.0-5"))
	var log bytes.Buffer
	o := arch.options()
	o.Progress = &log
	a, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Busybox != "busybox-static=1:1.35.0-5" || !strings.Contains(log.String(), "no longer in the archive") {
		t.Errorf("busybox %s; progress:\n%s", a.Busybox, log.String())
	}
}

func TestEnsureKernelPackageOverride(t *testing.T) {
	arch := newTestArchive(t)
	t.Setenv("VOIDBOX_KERNEL_PACKAGE", "linux-image-"+testRelease)
	a, err := Ensure(context.Background(), arch.options())
	if err != nil {
		t.Fatal(err)
	}
	if n := arch.src.count(arch.src.shows, "linux-image-amd64"); n != 0 || a.KernelRelease != testRelease {
		t.Errorf("pinned kernel: metapackage asked %d times, release %s", n, a.KernelRelease)
	}
	o := arch.options()
	o.KernelPackage = "linux-image-9.9.9-amd64"
	if _, err := Ensure(context.Background(), o); !errors.Is(err, deb.ErrNotFound) {
		t.Errorf("unknown pinned kernel: %v", err)
	}
}

func TestEnsureRejectsKernelWithoutPVH(t *testing.T) {
	arch := newTestArchive(t)
	arch.src.add("linux-image-"+testRelease, "6.1.1-1", kernelDeb(t, "linux-image-"+testRelease, "6.1.1-1", 0))
	_, err := Ensure(context.Background(), arch.options())
	if !errors.Is(err, ErrUnsupportedKernel) || !strings.Contains(err.Error(), "PVH") {
		t.Errorf("kernel without PVH note: %v", err)
	}
	// Nothing half-built is left to be mistaken for a complete kernel.
	if _, err := os.Stat(filepath.Join(arch.cache, "kernel", "linux-image-"+testRelease+"_6.1.1-1")); !os.IsNotExist(err) {
		t.Errorf("kernel directory exists after a failed build: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(arch.cache, "tmp")); len(left) != 0 {
		t.Errorf("staging left behind: %v", left)
	}
}

func TestEnsureNeedsGuestInit(t *testing.T) {
	arch := newTestArchive(t)
	o := arch.options()
	o.GuestInit = ""
	if _, err := Ensure(context.Background(), o); err == nil {
		t.Error("no guest init: no error")
	}
	o.GuestInit = filepath.Join(t.TempDir(), "absent")
	if _, err := Ensure(context.Background(), o); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing guest init: %v", err)
	}
}

func TestEnsureClearsStaleStaging(t *testing.T) {
	arch := newTestArchive(t)
	stale := filepath.Join(arch.cache, "tmp", "kernel-died")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(context.Background(), arch.options()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale staging survived: %v", err)
	}
}

func TestEnsureCancelled(t *testing.T) {
	arch := newTestArchive(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Ensure(ctx, arch.options()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
