package oci

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/voidbox/voidbox/internal/filelock"
)

// Inspect returns the cached image a reference or digest names.
func (s *Store) Inspect(refOrDigest string) (*Image, error) {
	d, err := s.resolveLocal(refOrDigest)
	if err != nil {
		return nil, err
	}
	return s.inspect(d)
}

func (s *Store) inspect(d string) (*Image, error) {
	im, err := s.readRecord(d)
	if err != nil {
		return nil, err
	}
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	im.Refs = refsOf(refs, d)
	return im, nil
}

// List returns every cached image, most recently used first.
func (s *Store) List() ([]*Image, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "images"))
	if err != nil {
		return nil, err
	}
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, e := range entries {
		d := "sha256:" + e.Name()
		if validDigest(d) != nil {
			continue
		}
		im, err := s.readRecord(d)
		if errors.Is(err, ErrNotFound) {
			continue // a pull still writing it
		}
		if err != nil {
			return nil, err
		}
		im.Refs = refsOf(refs, d)
		out = append(out, im)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastUsed.After(out[j].LastUsed) })
	return out, nil
}

// Lease is a VM's hold on an image: while it is open, rm and prune refuse
// the image. Close releases it; it is safe to call more than once.
type Lease struct {
	Image *Image
	lock  *filelock.Lock
}

// Close releases the lease.
func (l *Lease) Close() error { return l.lock.Close() }

// Use takes a shared hold on a cached image for a VM that boots from it,
// and records the use for prune's LRU order. The kernel drops the hold if
// the process dies, so a crashed voidbox never pins an image.
func (s *Store) Use(ctx context.Context, refOrDigest string) (*Lease, error) {
	d, err := s.resolveLocal(refOrDigest)
	if err != nil {
		return nil, err
	}
	l, err := filelock.AcquireShared(ctx, filepath.Join(s.imageDir(d), "use.lock"), nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, refOrDigest)
	}
	if err != nil {
		return nil, err
	}
	// Removed between resolving and locking: rm unlinks the lock file while
	// it holds it exclusively, so the record is gone once we get it.
	im, err := s.inspect(d)
	if err != nil {
		l.Close()
		return nil, err
	}
	s.touch(d)
	return &Lease{Image: im, lock: l}, nil
}

// Remove deletes a reference. When it was the image's last reference, or
// refOrDigest is a digest, the image goes too (with every blob no other
// image needs), unless a VM holds it: then nothing changes and the error
// wraps ErrInUse. It returns what it removed.
func (s *Store) Remove(ctx context.Context, refOrDigest string) ([]string, error) {
	d, err := s.resolveLocal(refOrDigest)
	if err != nil {
		return nil, err
	}
	gc, err := s.lock(ctx, "gc", nil)
	if err != nil {
		return nil, err
	}
	defer gc.Close()
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	// A reference removes itself; a digest (or a prefix) every reference to it.
	drop := refsOf(refs, d)
	if ref, err := ParseRef(refOrDigest); err == nil && refs[canonical(ref)] == d {
		drop = []string{canonical(ref)}
	}
	if len(refsOf(refs, d)) > len(drop) { // other references keep the image
		return drop, s.updateRefs(ctx, func(m map[string]string) {
			for _, r := range drop {
				delete(m, r)
			}
		})
	}
	if err := s.removeImage(d); err != nil {
		return nil, err
	}
	if err := s.updateRefs(ctx, func(m map[string]string) {
		for _, r := range drop {
			delete(m, r)
		}
	}); err != nil {
		return nil, err
	}
	if _, err := s.sweepBlobs(); err != nil {
		return nil, err
	}
	return append(drop, d), nil
}

// removeImage deletes images/<hex> if no VM holds it.
// Precondition: the gc lock is held exclusively.
func (s *Store) removeImage(d string) error {
	dir := s.imageDir(d)
	use, err := filelock.TryExclusive(filepath.Join(dir, "use.lock"))
	if errors.Is(err, filelock.ErrBusy) {
		return fmt.Errorf("%w: %s is held by a running VM; stop it first", ErrInUse, ShortDigest(d))
	}
	if err != nil {
		return err
	}
	defer use.Close()
	// Rename first: a half-removed directory never looks like an image.
	trash := filepath.Join(s.dir, "tmp", "rm-"+filepath.Base(dir))
	if err := os.Rename(dir, trash); err != nil {
		return err
	}
	return removeAll(trash)
}

// sweepBlobs deletes blobs no image record names, and stale partial files.
// Precondition: the gc lock is held exclusively, so no pull is writing.
func (s *Store) sweepBlobs() (int64, error) {
	keep := map[string]bool{}
	entries, err := os.ReadDir(filepath.Join(s.dir, "images"))
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		im, err := s.readRecord("sha256:" + e.Name())
		if err != nil {
			continue
		}
		for _, b := range im.blobs() {
			keep[strings.TrimPrefix(b, "sha256:")] = true
		}
	}
	var freed int64
	blobs, _ := os.ReadDir(filepath.Join(s.dir, "blobs", "sha256"))
	for _, b := range blobs {
		if keep[b.Name()] {
			continue
		}
		if fi, err := b.Info(); err == nil {
			freed += fi.Size()
		}
		if err := os.Remove(filepath.Join(s.dir, "blobs", "sha256", b.Name())); err != nil {
			return freed, err
		}
	}
	tmp, _ := os.ReadDir(filepath.Join(s.dir, "tmp"))
	for _, t := range tmp {
		_ = removeAll(filepath.Join(s.dir, "tmp", t.Name()))
	}
	return freed, nil
}

// removeAll removes a tree whose files may be read-only (blobs, images).
func removeAll(p string) error {
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o755)
		}
		return nil
	})
	return os.RemoveAll(p)
}
