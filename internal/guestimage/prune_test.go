package guestimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPruneArchivesKeepsRecentAndProtected(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	base := time.Now().Add(-2 * minArchiveAge)
	for i := range 12 {
		p := filepath.Join(dir, fmt.Sprintf("%02d.cpio.gz", i))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, base.Add(time.Duration(i)*time.Minute), base.Add(time.Duration(i)*time.Minute))
		paths = append(paths, p)
	}
	other := filepath.Join(dir, "lock")
	os.WriteFile(other, nil, 0o644)
	protect := []string{paths[0]} // the oldest, but in use
	pruneArchives(&cacheIndex{Files: map[string]indexEntry{}}, dir, dir, 4, protect)
	for i, p := range paths {
		_, err := os.Stat(p)
		kept := err == nil
		want := i == 0 || i >= 9 // protected + the three newest
		if kept != want {
			t.Errorf("%s: kept=%v, want %v", filepath.Base(p), kept, want)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("pruning removed a file that is not an archive")
	}
	// Archives used recently stay whatever their number: another process
	// may be about to boot from one it looked up.
	recent := filepath.Join(dir, "recent.cpio.gz")
	os.WriteFile(recent, nil, 0o644)
	pruneArchives(&cacheIndex{Files: map[string]indexEntry{}}, dir, dir, 1, nil)
	if _, err := os.Stat(recent); err != nil {
		t.Error("pruning removed an archive used a moment ago")
	}
}

func TestEnsurePrunesOldImages(t *testing.T) {
	arch := newTestArchive(t)
	var last *Artifacts
	for i := range keepArchives + 3 {
		if err := os.WriteFile(arch.guestInit, []byte(fmt.Sprintf("\x7fELF agent build %d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
		a, err := Ensure(context.Background(), arch.options())
		if err != nil {
			t.Fatal(err)
		}
		last = a
		// Each build happened days apart: none is protected by its age.
		ix := loadIndex(arch.cache)
		for rel, e := range ix.Files {
			if e.Used != 0 {
				e.Used -= int64(2 * minArchiveAge)
				ix.Files[rel] = e
			}
		}
		if err := ix.save(arch.cache, t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(arch.cache, "initramfs", "*.cpio.gz"))
	if len(left) != keepArchives {
		t.Errorf("%d images left after %d guest init builds, want %d", len(left), keepArchives+3, keepArchives)
	}
	if _, err := os.Stat(last.Initramfs); err != nil {
		t.Errorf("the image just returned was pruned: %v", err)
	}
}
