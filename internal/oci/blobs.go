package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// fetchBlob makes sure blob d (of size bytes) is in the cache, streaming it
// from open when it is not. Under the blob's lock the bytes go to
// tmp/<hex>.partial, truncated first (a cut earlier attempt restarts), and
// are hashed as they stream; only when digest and size match is the file
// renamed into blobs/. Anything else removes it.
func (s *Store) fetchBlob(ctx context.Context, d string, size int64, open func() (io.ReadCloser, error), p *layerMeter) error {
	final := s.blobPath(d)
	if fi, err := os.Stat(final); err == nil && fi.Size() == size {
		p.cached()
		return nil
	}
	hexd := strings.TrimPrefix(d, "sha256:")
	l, err := s.lock(ctx, "blob-"+hexd, nil)
	if err != nil {
		return err
	}
	defer l.Close()
	if fi, err := os.Stat(final); err == nil && fi.Size() == size { // fetched by another pull while we waited
		p.cached()
		return nil
	}
	os.Remove(final) // damaged (cut short): fetched again
	p.start()
	rc, err := open()
	if err != nil {
		p.fail()
		return err
	}
	defer rc.Close()
	err = s.writeVerified(d, size, ctxReader{ctx, rc}, p)
	if err != nil {
		p.fail()
		return err
	}
	p.done()
	return nil
}

// putBlob stores a small blob already in memory.
func (s *Store) putBlob(ctx context.Context, d string, b []byte) error {
	if _, err := os.Stat(s.blobPath(d)); err == nil {
		return nil
	}
	l, err := s.lock(ctx, "blob-"+strings.TrimPrefix(d, "sha256:"), nil)
	if err != nil {
		return err
	}
	defer l.Close()
	return s.writeVerified(d, int64(len(b)), bytes.NewReader(b), nil)
}

// writeVerified copies r to the blob file of d through tmp/<hex>.partial.
// Precondition: the blob lock is held.
func (s *Store) writeVerified(d string, size int64, r io.Reader, p *layerMeter) (err error) {
	if err := validDigest(d); err != nil {
		return err
	}
	partial := filepath.Join(s.dir, "tmp", strings.TrimPrefix(d, "sha256:")+".partial")
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(partial)
		}
	}()
	h := sha256.New()
	var w io.Writer = io.MultiWriter(f, h)
	if p != nil {
		w = io.MultiWriter(f, h, p)
	}
	// One byte past the size is enough to know the registry sent too much.
	n, err := io.Copy(w, io.LimitReader(r, size+1))
	if err != nil && strings.Contains(err.Error(), "error verifying") {
		// go-containerregistry's own check (its error type is internal).
		return fmt.Errorf("%w: blob %s: %v", ErrDigest, d, err)
	}
	if err != nil {
		return fmt.Errorf("downloading %s: %w", ShortDigest(d), err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d || n != size {
		return fmt.Errorf("%w: blob %s: got %d bytes hashing to %s, want %d bytes", ErrDigest, d, n, got, size)
	}
	if err := f.Chmod(0o444); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(partial, s.blobPath(d))
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
