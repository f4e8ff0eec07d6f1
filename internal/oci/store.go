package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/filelock"
	"github.com/voidbox/voidbox/internal/guestimage"
)

// Store is the image cache below one cache root. It keeps no state in
// memory: every call reads the disk under the locks described in the
// package doc, so Stores in several processes share one cache safely.
type Store struct {
	dir string // <cache root>/oci
}

// Open returns the store of the cache root cacheDir resolves to ("" means
// $VOIDBOX_CACHE_DIR, else $XDG_CACHE_HOME/voidbox, else ~/.cache/voidbox),
// creating its directories.
func Open(cacheDir string) (*Store, error) {
	root, err := guestimage.CacheRoot(cacheDir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: filepath.Join(root, "oci")}
	for _, d := range []string{"blobs/sha256", "images", "locks", "tmp"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("%w: %v; make it writable or set VOIDBOX_CACHE_DIR", guestimage.ErrCacheUnusable, err)
		}
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// blobPath is where the blob of digest d ("sha256:<hex>") lives.
func (s *Store) blobPath(d string) string {
	return filepath.Join(s.dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
}

func (s *Store) imageDir(d string) string {
	return filepath.Join(s.dir, "images", strings.TrimPrefix(d, "sha256:"))
}

func (s *Store) lockPath(name string) string { return filepath.Join(s.dir, "locks", name+".lock") }

// lock takes an exclusive lock named name, announcing a wait on w.
func (s *Store) lock(ctx context.Context, name string, w io.Writer) (*filelock.Lock, error) {
	return filelock.Acquire(ctx, s.lockPath(name), func() {
		line(w, "waiting for another voidbox process (%s)", name)
	})
}

// gcShared keeps rm and prune out while a pull or build works.
func (s *Store) gcShared(ctx context.Context, w io.Writer) (*filelock.Lock, error) {
	p := s.lockPath("gc")
	if f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE, 0o644); err == nil {
		f.Close()
	}
	return filelock.AcquireShared(ctx, p, func() { line(w, "waiting for an image removal to finish") })
}

// validDigest checks d is "sha256:" and 64 lowercase hex digits, so it is
// safe as a file name.
func validDigest(d string) error {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: digest %q is not sha256:<64 hex digits>", ErrInvalid, d)
	}
	return nil
}

// readRecord loads images/<hex>/image.json.
func (s *Store) readRecord(d string) (*Image, error) {
	b, err := os.ReadFile(filepath.Join(s.imageDir(d), "image.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	if err != nil {
		return nil, err
	}
	var im Image
	if err := json.Unmarshal(b, &im); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(s.imageDir(d), "image.json"), err)
	}
	if fi, err := os.Stat(filepath.Join(s.imageDir(d), "used")); err == nil {
		im.LastUsed = fi.ModTime().UTC()
	}
	im.RootFS = s.builtRootFS(d)
	return &im, nil
}

// writeRecord stores im and creates its use lock and used stamp.
// Precondition: the image lock is held.
func (s *Store) writeRecord(im *Image) error {
	dir := s.imageDir(im.Digest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range []string{"use.lock", "used"} {
		f, err := os.OpenFile(filepath.Join(dir, n), os.O_RDONLY|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	saved := *im
	saved.Refs, saved.LastUsed, saved.RootFS = nil, time.Time{}, nil // kept elsewhere
	b, err := json.MarshalIndent(&saved, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, "tmp"), filepath.Join(dir, "image.json"), b)
}

// touch records a use of image d now.
func (s *Store) touch(d string) {
	now := time.Now()
	_ = os.Chtimes(filepath.Join(s.imageDir(d), "used"), now, now)
}

// writeFileAtomic writes b to p through a temp file in tmp and a rename.
func writeFileAtomic(tmp, p string, b []byte) error {
	f, err := os.CreateTemp(tmp, filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// line writes one progress line to w when w is not nil.
func line(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
