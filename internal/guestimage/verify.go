package guestimage

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"

	"github.com/voidbox/voidbox/internal/artifact"
)

// Verify reads every file the cache recorded — the kernel and busybox
// directories of the versions set-up resolved, the kept packages and the
// initramfs archives — and returns what is damaged (errors wrapping
// artifact.ErrDamaged, one per file), or nil. It changes nothing: set-up
// repairs (voidbox doctor reports).
func Verify(cacheDir string) error {
	root, err := CacheRoot(cacheDir)
	if err != nil {
		return err
	}
	var errs []error
	st := loadState(root)
	seen := map[string]bool{}
	for _, ref := range st {
		if seen[ref.dirName()] {
			continue
		}
		seen[ref.dirName()] = true
		for _, d := range []struct{ sub, meta string }{{"kernel", "kernel.json"}, {"busybox", "busybox.json"}} {
			dir := filepath.Join(root, d.sub, ref.dirName())
			if _, err := os.Stat(dir); err != nil {
				continue // another kind of package, or not extracted yet
			}
			var m struct {
				Files artifact.Set `json:"files"`
			}
			b, err := os.ReadFile(filepath.Join(dir, d.meta))
			if err != nil || json.Unmarshal(b, &m) != nil || m.Files == nil {
				errs = append(errs, &artifact.DamagedError{Path: dir, Why: "no records of its files (" + d.meta + ")"})
				continue
			}
			errs = append(errs, m.Files.Verify(dir))
		}
	}
	ix := loadIndex(root)
	rels := make([]string, 0, len(ix.Files))
	for rel := range ix.Files {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		errs = append(errs, ix.Files[rel].Verify(filepath.Join(root, filepath.FromSlash(rel))))
	}
	return errors.Join(errs...)
}
