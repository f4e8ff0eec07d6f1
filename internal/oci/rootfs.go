package oci

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/voidbox/voidbox/internal/rootfs"
)

// RootFSOptions say which root file system to build.
type RootFSOptions struct {
	// Format is erofs (the default) or ext4.
	Format rootfs.Format
	// Progress receives a line when a build starts and ends. Nil is silent.
	Progress io.Writer
}

// BuildRootFS returns the read-only root file system image of a cached
// image, building it on first use: layers applied in order (package rootfs)
// from the verified blobs, each layer's uncompressed bytes checked against
// the config's diff_id. The file is images/<hex>/rootfs.<format>; two
// callers build it once.
func (s *Store) BuildRootFS(ctx context.Context, refOrDigest string, o RootFSOptions) (*RootFS, error) {
	f, err := rootfs.ParseFormat(string(o.Format))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	d, err := s.resolveLocal(refOrDigest)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(s.imageDir(d), "rootfs."+string(f))
	if fi, err := os.Stat(out); err == nil && s.rootFSIntact(d, out) == nil {
		s.touch(d)
		return &RootFS{Path: out, Size: fi.Size()}, nil
	}
	gc, err := s.gcShared(ctx, o.Progress)
	if err != nil {
		return nil, err
	}
	defer gc.Close()
	l, err := s.lock(ctx, "image-"+strings.TrimPrefix(d, "sha256:"), o.Progress)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	im, err := s.readRecord(d)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(out); err == nil {
		if damage := s.rootFSIntact(d, out); damage == nil {
			s.touch(d)
			return &RootFS{Path: out, Size: fi.Size()}, nil
		} else {
			line(o.Progress, "repairing the cache: %v", damage)
			os.Remove(out)
		}
	}
	var openers []rootfs.Opener
	for _, layer := range im.Layers {
		openers = append(openers, func() (io.ReadCloser, error) { return s.openLayer(layer) })
	}
	line(o.Progress, "building the %s root file system of %s (%d layers)", f, ShortDigest(d), len(im.Layers))
	start := time.Now()
	res, err := rootfs.Build(ctx, out, openers, rootfs.Options{Format: f, TmpDir: filepath.Join(s.dir, "tmp")})
	if err != nil {
		return nil, fmt.Errorf("building the root file system of %s: %w", ShortDigest(d), err)
	}
	if err := s.recordRootFS(d, out); err != nil {
		return nil, fmt.Errorf("recording the root file system of %s: %w", ShortDigest(d), err)
	}
	s.touch(d)
	line(o.Progress, "built %s: %d files, %s of contents, image %s, in %s (layers %s, mkfs %s)", out, res.Files,
		HumanBytes(res.Bytes), HumanBytes(res.Size), time.Since(start).Round(10*time.Millisecond),
		res.Apply.Round(10*time.Millisecond), res.Mkfs.Round(10*time.Millisecond))
	return &RootFS{Path: out, Size: res.Size}, nil
}

// openLayer opens a cached layer blob as its uncompressed tar, whatever
// its compression (gzip, zstd or none, told by the magic bytes), checking
// the tar's sha256 against the diff_id when the stream ends.
func (s *Store) openLayer(l Layer) (io.ReadCloser, error) {
	f, err := os.Open(s.blobPath(l.Digest))
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(4)
	var r io.Reader = br
	closeFn := f.Close
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("layer %s: %w", ShortDigest(l.Digest), err)
		}
		r = zr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("layer %s: %w", ShortDigest(l.Digest), err)
		}
		closeFn = func() error { zr.Close(); return f.Close() }
		r = zr
	}
	return &diffIDReader{r: r, h: sha256.New(), want: l.DiffID, close: closeFn}, nil
}

// diffIDReader hashes what it reads and turns EOF into an error when the
// hash is not the expected diff_id.
type diffIDReader struct {
	r     io.Reader
	h     hash.Hash
	want  string
	close func() error
}

func (d *diffIDReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.h.Write(p[:n])
	if err == io.EOF {
		if got := "sha256:" + hex.EncodeToString(d.h.Sum(nil)); got != d.want {
			return n, fmt.Errorf("%w: uncompressed layer hashes to %s, the config's diff_id is %s", ErrDigest, got, d.want)
		}
	}
	return n, err
}

func (d *diffIDReader) Close() error { return d.close() }
