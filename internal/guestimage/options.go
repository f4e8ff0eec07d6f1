package guestimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/voidbox/voidbox/internal/deb"
)

// Options says what to build and where. Only GuestInit is required.
type Options struct {
	// CacheDir is the cache root. Empty means $VOIDBOX_CACHE_DIR, else $XDG_CACHE_HOME/voidbox,
	// else ~/.cache/voidbox.
	CacheDir string
	// GuestInit is the path of the static voidbox-guest binary; it becomes /init.
	GuestInit string
	// Progress receives one line per download or build step. Nil means silent.
	Progress io.Writer
	// Refresh re-resolves package versions through apt instead of reusing the versions recorded in
	// the cache. Files of versions that did not change are still reused.
	Refresh bool
	// Modules lists the kernel modules to put in the image. The zero value means DefaultModules().
	Modules ModuleSet
	// Layers are extra archives appended after the base initramfs, in order (a Node.js runtime, say).
	Layers []Layer
	// Packages finds and downloads Debian packages. Nil means apt on this host.
	Packages deb.Source
	// KernelPackage pins the concrete kernel package (e.g. "linux-image-6.1.0-57-amd64"). Empty means
	// $VOIDBOX_KERNEL_PACKAGE, else whatever the linux-image-amd64 metapackage depends on.
	KernelPackage string
	// Prebuilt, when set, is the kernel to boot instead of a Debian
	// package's: one with everything built in (the slim kernel). The image
	// then carries no modules and says so in its manifest.
	Prebuilt *PrebuiltKernel
}

// PrebuiltKernel is a kernel built outside the package cache with every
// module the guest uses built in.
type PrebuiltKernel struct {
	Vmlinux string // ELF vmlinux with a PVH entry point
	Release string // guest `uname -r`
	ID      string // names the build (release and the digest of its inputs); part of the image's key
}

// ModuleSet names the kernel modules the image carries. Dependencies are added automatically.
type ModuleSet struct {
	// Boot modules are loaded by the guest init at every boot.
	Boot []string
	// OnDemand modules are in the image and loaded by the guest when a feature needs them.
	OnDemand []string
}

// DefaultModules is the set every voidbox guest carries: virtio-mmio devices and the console at boot;
// file systems, network and block devices on demand.
func DefaultModules() ModuleSet {
	return ModuleSet{
		// Only what the handshake needs is loaded before it; virtio_rng (an
		// entropy source, not needed to boot) is loaded right after, 9p when
		// a 9p share is mounted, virtio_net (with net_failover and failover,
		// ~120 KB) with the boot modules when the VM has a network device,
		// and during the handshake of a VM that asks for them: virtio_blk,
		// erofs and overlay for an OCI root or image (erofs pulls in
		// libcrc32c and crc32c_generic), virtiofs (and fuse) for host mounts.
		// Every module here is unpacked by every boot: these add 1.2 MB
		// (~350 kB gzip'd) to the initramfs; ext4 alone would be 2 MB.
		Boot:     []string{"virtio_ring", "virtio", "virtio_mmio", "virtio_console", "qemu_fw_cfg"},
		OnDemand: []string{"virtio_rng", "9p", "9pnet_virtio", "virtio_net", "virtio_blk", "erofs", "overlay", "virtiofs"},
	}
}

func (m ModuleSet) isZero() bool { return len(m.Boot) == 0 && len(m.OnDemand) == 0 }

// Artifacts are the files a VM boots from. All paths are absolute and stay valid until a later
// Ensure with different inputs replaces them.
type Artifacts struct {
	Kernel        string // ELF vmlinux with a PVH entry point
	BzImage       string // the package's vmlinuz, for VMMs that cannot boot PVH
	KernelRelease string // "6.1.0-57-amd64"
	KernelPackage string // "linux-image-6.1.0-57-amd64=6.1.192-3"
	Busybox       string // "busybox-static=1:1.35.0-4+deb12u1+b1"
	// CACertificates is the package of the image's CA bundle
	// ("ca-certificates=20230311"), at /etc/ssl/certs/ca-certificates.crt.
	CACertificates string
	BusyboxBinary  string // the static busybox in the cache (test images are made of it)
	Initramfs      string // gzip'd newc cpio: base archive followed by the layer archives
	Digest         string // hex sha256 of every input of Initramfs
	CacheDir       string
	// Modules is the image's module manifest in load order (also at /etc/voidbox/modules.json).
	Modules []ManifestModule
	// Cached is true when Ensure downloaded and built nothing.
	Cached bool
}

// Summary is one line for a person: what is ready and where.
func (a *Artifacts) Summary() string {
	size := ""
	if fi, err := os.Stat(a.Initramfs); err == nil {
		size = fmt.Sprintf(" (%.1f MB)", float64(fi.Size())/1e6)
	}
	state := "built"
	if a.Cached {
		state = "cached"
	}
	return fmt.Sprintf("guest image %s: kernel %s from %s, initramfs %s%s, %d modules, in %s",
		state, a.KernelRelease, a.KernelPackage, shortDigest(a.Digest), size, len(a.Modules), a.CacheDir)
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// progress writes one line to w when w is not nil.
func progress(w io.Writer, format string, args ...any) {
	if w == nil {
		return
	}
	line := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	_, _ = io.WriteString(w, line)
}

// Layer is an extra initramfs archive appended after the base image, such as a language runtime.
// Layers are cached by Key: a layer whose key did not change is not populated again.
type Layer interface {
	// Name is short and file-name safe ("node"); it appears in progress lines and cache file names.
	Name() string
	// Key identifies the layer's content (a version string or a digest of its sources).
	Key(ctx context.Context) (string, error)
	// Populate adds the layer's files to t.
	Populate(ctx context.Context, t *Tree) error
}

// absPath makes p absolute without touching the file system.
func absPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return filepath.Abs(p)
}
