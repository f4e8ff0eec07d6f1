package guestimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/voidbox/voidbox/internal/deb"
)

// testFile is one file of a test package.
type testFile struct {
	data []byte
	mode os.FileMode
}

// buildDeb makes a real .deb with dpkg-deb, compressing the data member with comp (xz, gzip, zstd, none).
func buildDeb(t *testing.T, name, version, comp string, files map[string]testFile) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: voidbox tests <tests@example.invalid>\nDescription: test package\n", name, version)
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	for p, f := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(dir, name+".deb")
	out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+comp, "--build", root, deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb: %v: %s", err, out)
	}
	return deb
}

const testRelease = "6.1.0-test-amd64"

// testKernelModules are synthetic modules shaped like Debian's: every default module with its real
// dependencies, a softdep through an alias, and one module outside the default set.
var testKernelModules = []struct{ path, name, depends, extra string }{
	{"kernel/drivers/virtio/virtio_ring.ko", "virtio_ring", "", ""},
	{"kernel/drivers/virtio/virtio.ko", "virtio", "virtio_ring", ""},
	{"kernel/drivers/virtio/virtio_mmio.ko", "virtio_mmio", "virtio,virtio_ring", ""},
	{"kernel/drivers/char/virtio_console.ko", "virtio_console", "virtio,virtio_ring", ""},
	{"kernel/drivers/char/hw_random/virtio-rng.ko", "virtio_rng", "virtio,virtio_ring", ""},
	{"kernel/drivers/firmware/qemu_fw_cfg.ko", "qemu_fw_cfg", "", ""},
	{"kernel/net/9p/9pnet.ko", "9pnet", "", ""},
	{"kernel/fs/netfs/netfs.ko", "netfs", "", ""},
	{"kernel/fs/fscache/fscache.ko", "fscache", "netfs", ""},
	{"kernel/fs/9p/9p.ko", "9p", "9pnet,fscache,netfs", ""},
	{"kernel/net/9p/9pnet_virtio.ko", "9pnet_virtio", "virtio,9pnet,virtio_ring", ""},
	{"kernel/fs/fuse/fuse.ko", "fuse", "", ""},
	{"kernel/fs/fuse/virtiofs.ko", "virtiofs", "fuse,virtio,virtio_ring", ""},
	{"kernel/fs/overlayfs/overlay.ko", "overlay", "", ""},
	{"kernel/fs/ext4/ext4.ko", "ext4", "jbd2,mbcache,crc16", "softdep=pre: crypto-crc32c"},
	{"kernel/fs/jbd2/jbd2.ko", "jbd2", "", "softdep=pre: crypto-crc32c"},
	{"kernel/fs/mbcache.ko", "mbcache", "", ""},
	{"kernel/lib/crc16.ko", "crc16", "", ""},
	{"kernel/crypto/crc32c_generic.ko", "crc32c_generic", "", "alias=crypto-crc32c"},
	{"kernel/lib/libcrc32c.ko", "libcrc32c", "", "softdep=pre: crc32c"},
	{"kernel/fs/erofs/erofs.ko", "erofs", "libcrc32c", ""},
	{"kernel/net/core/failover.ko", "failover", "", ""},
	{"kernel/drivers/net/net_failover.ko", "net_failover", "failover", ""},
	{"kernel/drivers/net/virtio_net.ko", "virtio_net", "virtio_ring,virtio,net_failover", ""},
	{"kernel/drivers/block/virtio_blk.ko", "virtio_blk", "virtio,virtio_ring", ""},
	{"kernel/net/vmw_vsock/vsock.ko", "vsock", "", ""},
}

// kernelDeb builds a synthetic Debian kernel package whose vmlinuz is a bzImage around an xz+BCJ
// payload with a PVH note at pvhEntry (no note when 0).
func kernelDeb(t *testing.T, name, version string, pvhEntry uint32) string {
	t.Helper()
	files := map[string]testFile{
		"boot/vmlinuz-" + testRelease:                     {testBzImage(39, kernelXZ(t, testVmlinux(t, pvhEntry))), 0o644},
		"boot/config-" + testRelease:                      {[]byte("CONFIG_PVH=y\n"), 0o644},
		"lib/modules/" + testRelease + "/modules.builtin": {[]byte("kernel/drivers/pci/pci-stub.ko\n"), 0o644},
		"lib/modules/" + testRelease + "/modules.order":   {[]byte("kernel/fs/ext4/ext4.ko\n"), 0o644},
		"usr/share/doc/" + name + "/changelog.Debian.gz":  {[]byte("not really gzip"), 0o644},
	}
	for _, m := range testKernelModules {
		info := []string{"name=" + m.name, "depends=" + m.depends, "vermagic=" + testRelease + " SMP mod_unload"}
		if m.extra != "" {
			info = append(info, m.extra)
		}
		files["lib/modules/"+testRelease+"/"+m.path] = testFile{testModule(t, info...), 0o644}
	}
	return buildDeb(t, name, version, "xz", files)
}

// busyboxDeb builds a stand-in busybox-static whose bin/busybox is a script that answers --list-full.
func busyboxDeb(t *testing.T, version string) string {
	t.Helper()
	script := "#!/bin/sh\nif [ \"$1\" = --list-full ]; then printf 'bin/sh\\nbin/cat\\nusr/bin/id\\nsbin/poweroff\\nbin/busybox\\n'; fi\n"
	return buildDeb(t, "busybox-static", version, "xz", map[string]testFile{"bin/busybox": {[]byte(script), 0o755}})
}

// testCAs are the stand-in certificates of the ca-certificates package,
// by path in the package; the bundle holds them in path order.
var testCAs = map[string]string{
	"usr/share/ca-certificates/mozilla/B_Root.crt": "-----BEGIN CERTIFICATE-----\nQg==\n-----END CERTIFICATE-----\n",
	"usr/share/ca-certificates/mozilla/A_Root.crt": "-----BEGIN CERTIFICATE-----\nQQ==\n-----END CERTIFICATE-----", // no final newline
}

// caCertsDeb builds a stand-in ca-certificates with testCAs and a file that is no certificate.
func caCertsDeb(t *testing.T, version string) string {
	t.Helper()
	files := map[string]testFile{"usr/share/doc/ca-certificates/README": {[]byte("not a cert"), 0o644}}
	for p, c := range testCAs {
		files[p] = testFile{[]byte(c), 0o644}
	}
	return buildDeb(t, "ca-certificates", version, "xz", files)
}

// fakeSource is a deb.Source over .deb files built by the test. It answers like apt: the kernel
// metapackage depends on a versioned package, Show returns candidates, Download copies the .deb.
type fakeSource struct {
	mu        sync.Mutex
	pkgs      map[string]deb.Package // guarded by mu
	debs      map[string]string      // name=version → .deb path; guarded by mu
	shows     map[string]int         // guarded by mu
	downloads map[string]int         // guarded by mu
}

func newFakeSource() *fakeSource {
	return &fakeSource{pkgs: map[string]deb.Package{}, debs: map[string]string{}, shows: map[string]int{}, downloads: map[string]int{}}
}

// add makes name=version the candidate of name, served from debPath.
func (f *fakeSource) add(name, version, debPath string, depends ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pkgs[name] = deb.Package{Name: name, Version: version, Depends: depends, Size: 1234}
	if debPath != "" {
		f.debs[name+"="+version] = debPath
	}
}

func (f *fakeSource) forget(name, version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.debs, name+"="+version)
}

func (f *fakeSource) Show(_ context.Context, name string) (deb.Package, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shows[name]++
	p, ok := f.pkgs[name]
	if !ok {
		return deb.Package{}, fmt.Errorf("%w: %s", deb.ErrNotFound, name)
	}
	return p, nil
}

func (f *fakeSource) Download(_ context.Context, name, version, dir string) (string, error) {
	f.mu.Lock()
	f.downloads[name]++
	src, ok := f.debs[name+"="+version]
	f.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%w: %s=%s", deb.ErrNotFound, name, version)
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	dst := filepath.Join(dir, strings.ReplaceAll(name+"_"+version, ":", "%3a")+"_amd64.deb")
	out, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	defer out.Close()
	_, err = io.Copy(out, in)
	return dst, err
}

func (f *fakeSource) count(m map[string]int, name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[name]
}

func (f *fakeSource) totalDownloads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.downloads {
		n += v
	}
	return n
}

// testArchive is a Debian-like archive with one kernel and busybox, plus a stand-in guest init.
type testArchive struct {
	src       *fakeSource
	guestInit string
	cache     string
}

func newTestArchive(t *testing.T) *testArchive {
	t.Helper()
	src := newFakeSource()
	src.add("linux-image-amd64", "6.1.1-1", "", "linux-image-"+testRelease, "firmware-linux-free")
	src.add("linux-image-"+testRelease, "6.1.1-1", kernelDeb(t, "linux-image-"+testRelease, "6.1.1-1", 0x1000000))
	src.add("busybox-static", "1:1.35.0-4", busyboxDeb(t, "1:1.35.0-4"))
	src.add("ca-certificates", "20230311", caCertsDeb(t, "20230311"))
	dir := t.TempDir()
	guestInit := filepath.Join(dir, "voidbox-guest")
	if err := os.WriteFile(guestInit, []byte("\x7fELF stand-in agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &testArchive{src: src, guestInit: guestInit, cache: filepath.Join(dir, "cache")}
}

func (a *testArchive) options() Options {
	return Options{CacheDir: a.cache, GuestInit: a.guestInit, Packages: a.src}
}

// initramfsEntries reads back an Artifacts' initramfs.
func initramfsEntries(t *testing.T, art *Artifacts) map[string]cpioEntry {
	t.Helper()
	b, err := os.ReadFile(art.Initramfs)
	if err != nil {
		t.Fatal(err)
	}
	_, entries := readCpioGz(t, b)
	return entries
}
