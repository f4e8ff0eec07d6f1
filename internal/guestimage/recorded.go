package guestimage

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/voidbox/voidbox/internal/artifact"
)

// Digest is one guest artifact as set-up recorded it when it wrote (or
// downloaded and checked) the file. Digests are read from the cache's
// records, not recomputed: Verify (voidbox doctor) reads the files.
type Digest struct {
	// Kind is kernel-package, kernel (vmlinux, vmlinuz, modules),
	// busybox-package, busybox, or the name the caller gave an initramfs.
	Kind   string `json:"kind"`
	Path   string `json:"path"` // slash path under the cache root
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Integrity is another digest the artifact was verified against where
	// no sha256 is recorded (an npm tarball's dist.integrity).
	Integrity string `json:"integrity,omitempty"`
}

// Digests lists the recorded digests of the guest that set-up would boot
// now (the kernel Inspect reports): the kernel package and every file
// extracted from it, busybox's package and binary, and each initramfs of
// images (kind → path under the cache, e.g. from setup.Lookup). A file
// named but not recorded is an error: it was not finished by a set-up.
func Digests(cacheDir string, images map[string]string) ([]Digest, error) {
	root, err := CacheRoot(cacheDir)
	if err != nil {
		return nil, err
	}
	if _, err := Inspect(cacheDir); err != nil {
		return nil, err
	}
	st := loadState(root)
	request := kernelMetapackage
	if p := os.Getenv(KernelEnv); p != "" {
		request = p
	}
	ix := loadIndex(root)
	var out []Digest
	indexed := func(kind, rel string) error {
		e, ok := ix.Files[rel]
		if !ok {
			return fmt.Errorf("%s: no record of %s in %s", kind, rel, filepath.Join(root, "artifacts.json"))
		}
		out = append(out, Digest{Kind: kind, Path: rel, Size: e.Size, SHA256: e.SHA256})
		return nil
	}
	for _, p := range []struct {
		request, kind, sub, meta string
	}{{request, "kernel", "kernel", "kernel.json"}, {busyboxPackage, "busybox", "busybox", "busybox.json"}} {
		ref, ok := st[p.request]
		if !ok {
			return nil, fmt.Errorf("set-up has not resolved %s yet", p.request)
		}
		if err := indexed(p.kind+"-package", "debs/"+ref.dirName()+".deb"); err != nil {
			return nil, err
		}
		dir := p.sub + "/" + ref.dirName()
		var m struct {
			Files artifact.Set `json:"files"`
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(dir), p.meta))
		if err != nil || json.Unmarshal(b, &m) != nil || m.Files == nil {
			return nil, fmt.Errorf("%s: no records of its files (%s)", dir, p.meta)
		}
		for _, rel := range slices.Sorted(maps.Keys(m.Files)) {
			r := m.Files[rel]
			out = append(out, Digest{Kind: p.kind, Path: dir + "/" + rel, Size: r.Size, SHA256: r.SHA256})
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(images)) {
		rel, err := filepath.Rel(root, images[kind])
		if err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("%s: %s is not in the cache %s", kind, images[kind], root)
		}
		if err := indexed(kind, filepath.ToSlash(rel)); err != nil {
			return nil, err
		}
	}
	return out, nil
}
