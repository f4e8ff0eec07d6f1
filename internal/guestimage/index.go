package guestimage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/voidbox/voidbox/internal/artifact"
)

// cacheIndex is artifacts.json: the record of every initramfs archive and
// kept package in the cache, by slash path relative to the cache root.
// Kernel and busybox directories carry their own records (kernel.json,
// busybox.json), written last before the directory is renamed into place.
// A file without a record was not finished by a set-up: it is never booted.
type cacheIndex struct {
	Files map[string]indexEntry `json:"files"`
}

type indexEntry struct {
	artifact.Record
	// Used is when a set-up last returned the file (pruning keeps the most
	// recently used); files are not touched, so their mtime stays recorded.
	Used int64 `json:"used_ns,omitempty"`
}

func loadIndex(root string) *cacheIndex {
	ix := &cacheIndex{}
	if b, err := os.ReadFile(filepath.Join(root, "artifacts.json")); err == nil {
		_ = json.Unmarshal(b, ix) // unreadable: nothing is recorded, set-up rebuilds
	}
	if ix.Files == nil {
		ix.Files = map[string]indexEntry{}
	}
	return ix
}

// save writes the index, dropping records of files that are gone.
// Precondition: the cache lock is held.
func (ix *cacheIndex) save(root, tmp string) error {
	for rel := range ix.Files {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			delete(ix.Files, rel)
		}
	}
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(tmp, filepath.Join(root, "artifacts.json"), append(b, '\n'), 0o644)
}

// rel is p relative to the cache root, slash-separated.
func (c *cacheRun) rel(p string) string {
	r, err := filepath.Rel(c.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// intact checks a cached file against its record: size and mtime for a
// start (Lookup), the digest for set-up.
func (c *cacheRun) intact(p string) error {
	e, ok := c.index.Files[c.rel(p)]
	if !ok {
		return &artifact.DamagedError{Path: p, Why: "not recorded by a finished set-up"}
	}
	if c.lookupOnly {
		return e.Check(p)
	}
	return e.Verify(p)
}

// record stamps the file at p, just written. Precondition: the cache lock is held.
func (c *cacheRun) record(p string) error {
	r, err := artifact.Stamp(p)
	if err != nil {
		return err
	}
	c.index.Files[c.rel(p)] = indexEntry{Record: r, Used: time.Now().UnixNano()}
	c.indexDirty = true
	return nil
}

// markUsed notes that set-up returned p; a verified file whose mtime was
// changed (a touch) gets its record updated. Precondition: the cache lock is held.
func (c *cacheRun) markUsed(p string) {
	e, ok := c.index.Files[c.rel(p)]
	if !ok {
		return
	}
	e.Used = time.Now().UnixNano()
	if fi, err := os.Stat(p); err == nil {
		e.ModTime = fi.ModTime().UnixNano()
	}
	c.index.Files[c.rel(p)] = e
	c.indexDirty = true
}

// lastUsed is when set-up last returned p (its mtime if unrecorded).
func (ix *cacheIndex) lastUsed(root, p string, fi os.FileInfo) time.Time {
	if r, err := filepath.Rel(root, p); err == nil {
		if e, ok := ix.Files[filepath.ToSlash(r)]; ok && e.Used != 0 {
			return time.Unix(0, e.Used)
		}
	}
	return fi.ModTime()
}
