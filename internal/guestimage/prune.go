package guestimage

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// keepArchives is how many initramfs and layer archives stay in the cache. Every guest init rebuild makes
// a new image, so without a bound a development loop would fill the disk; a few old ones stay for
// VMs that are about to start from them.
const keepArchives = 8

// minArchiveAge protects an archive set up recently from pruning whatever
// the count: another voidbox process (another checkout, another version)
// may have looked it up and be about to boot from it — starts use Lookup,
// which takes no lock and records no use. Measured: two checkouts' test runs sharing one cache
// pruned each other's initramfs between lookup and boot.
const minArchiveAge = 24 * time.Hour

// pruneArchives removes all but the keep most recently used *.cpio.gz files in dir (by ix), never
// one of protect. Precondition: the cache lock is held.
func pruneArchives(ix *cacheIndex, root, dir string, keep int, protect []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type file struct {
		path string
		used time.Time
	}
	var files []file
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if filepath.Ext(p) != ".gz" || slices.Contains(protect, p) {
			continue
		}
		if fi, err := e.Info(); err == nil {
			files = append(files, file{p, ix.lastUsed(root, p, fi)})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].used.After(files[j].used) })
	for i, f := range files {
		if i+len(protect) >= keep && time.Since(f.used) > minArchiveAge {
			os.Remove(f.path)
		}
	}
}

// pruneUnrecorded removes kernel, busybox and CA bundle directories of versions that resolved.json no longer
// names. It runs only after a Refresh: that is when a user asks to move to new versions, and other
// kernels pinned by VOIDBOX_KERNEL_PACKAGE stay recorded under their own name.
// Precondition: the cache lock is held.
func (c *cacheRun) pruneUnrecorded() {
	keep := map[string]bool{}
	for _, ref := range c.state {
		keep[ref.dirName()] = true
	}
	for _, sub := range []string{"kernel", "busybox", "cacerts"} {
		entries, _ := os.ReadDir(filepath.Join(c.root, sub))
		for _, e := range entries {
			if e.IsDir() && !keep[e.Name()] {
				progress(c.progress, "removing %s/%s (no longer recorded)", sub, e.Name())
				os.RemoveAll(filepath.Join(c.root, sub, e.Name()))
			}
		}
	}
	debs, _ := os.ReadDir(filepath.Join(c.root, "debs"))
	for _, e := range debs {
		if name, ok := strings.CutSuffix(e.Name(), ".deb"); ok && !keep[name] {
			progress(c.progress, "removing debs/%s (no longer recorded)", e.Name())
			os.Remove(filepath.Join(c.root, "debs", e.Name()))
		}
	}
}
