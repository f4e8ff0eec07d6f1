package guestimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDigestsMatchFiles: every digest Digests reports is the sha256 of the
// file it names, and the kernel package, vmlinux, busybox and the initramfs
// are all among them.
func TestDigestsMatchFiles(t *testing.T) {
	arch := newTestArchive(t)
	o := arch.options()
	a, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Digests(o.CacheDir, map[string]string{"initramfs": a.Initramfs})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, d := range ds {
		kinds[d.Kind]++
		b, err := os.ReadFile(filepath.Join(a.CacheDir, filepath.FromSlash(d.Path)))
		if err != nil {
			t.Errorf("%s: %v", d.Path, err)
			continue
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != d.SHA256 || int64(len(b)) != d.Size {
			t.Errorf("%s: recorded %s (%d bytes), file has another digest or size", d.Path, d.SHA256, d.Size)
		}
	}
	for _, k := range []string{"kernel-package", "kernel", "busybox-package", "busybox", "initramfs"} {
		if kinds[k] == 0 {
			t.Errorf("no %s digest in %+v", k, ds)
		}
	}
	var vmlinux bool
	for _, d := range ds {
		vmlinux = vmlinux || strings.HasSuffix(d.Path, "/vmlinux")
	}
	if !vmlinux {
		t.Error("vmlinux is not listed")
	}
	if _, err := Digests(o.CacheDir, map[string]string{"initramfs": "/elsewhere/x.cpio.gz"}); err == nil {
		t.Error("an initramfs outside the cache was listed")
	}
}
