package guestimage

import (
	"context"
	"encoding/json"
	"io/fs"
	"path"
)

// manifest is /etc/voidbox/modules.json: the guest init loads the boot modules in this order and
// the others, with their deps, when a feature needs them.
type manifest struct {
	Kernel  string           `json:"kernel"`
	Modules []ManifestModule `json:"modules"`
	// Builtin says the kernel has every module the guest asks for built
	// in: the guest init loads nothing.
	Builtin bool `json:"builtin,omitempty"`
}

// sandboxUID is the unprivileged user commands run as in the guest.
const sandboxUID = 1000

// baseTree is the content of the base initramfs: the guest init (initBin) as /init, busybox, modules and their
// manifest, users, and the mount points the guest init expects.
func baseTree(initBin string, k kernelFiles, order []ManifestModule, bb busyboxFiles, caBundle string) (*Tree, error) {
	t := NewTree()
	t.CopyFile("init", 0o755, initBin)

	t.CopyFile("bin/busybox", 0o755, bb.binary)
	for _, a := range bb.applets {
		t.Symlink(a, "/bin/busybox")
	}

	for _, m := range order {
		t.CopyFile(m.Path, 0o644, k.koPath(m))
	}
	b, err := json.MarshalIndent(manifest{Kernel: k.meta.Index.Release, Modules: order, Builtin: k.builtin}, "", "  ")
	if err != nil {
		return nil, err
	}
	t.File("etc/voidbox/modules.json", 0o644, append(b, '\n'))

	t.File("etc/passwd", 0o644, []byte(
		"root:x:0:0:root:/root:/bin/sh\n"+
			"sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh\n"+
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	t.File("etc/group", 0o644, []byte("root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n"))
	// Name resolution for a box with a network: /etc/resolv.conf is
	// written by the guest init at boot; localhost resolves without DNS.
	t.File("etc/hosts", 0o644, []byte("127.0.0.1\tlocalhost voidbox\n::1\tlocalhost\n"))
	t.File("etc/nsswitch.conf", 0o644, []byte("hosts: files dns\n"))
	t.CopyFile(CABundlePath, 0o644, caBundle)

	for _, d := range []string{"proc", "sys", "dev", "run", "workspace", "root", "etc", "etc/voidbox", "etc/ssl", "etc/ssl/certs",
		"usr", "usr/bin", "usr/sbin", "sbin", "bin", "lib", "home"} {
		if !t.Has(d) {
			perm := 0o755
			if d == "root" {
				perm = 0o700
			}
			t.Dir(d, fs.FileMode(perm), 0, 0)
		}
	}
	t.Dir("tmp", 0o777|fs.ModeSticky, 0, 0)
	t.Dir("home/sandbox", 0o755, sandboxUID, sandboxUID)
	if k.meta.Index != nil {
		t.Dir(path.Join("lib/modules", k.meta.Index.Release), 0o755, 0, 0)
	}
	return t, nil
}

// layerTree asks a Layer for its files.
func layerTree(ctx context.Context, l Layer) (*Tree, error) {
	t := NewTree()
	if err := l.Populate(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}
