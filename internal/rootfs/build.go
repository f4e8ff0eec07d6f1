package rootfs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Options say how to build.
type Options struct {
	// Format is the file system; "" means Erofs.
	Format Format
	// Compress asks mkfs.erofs for lz4hc. Off by default: under TCG every
	// decompressed block costs guest CPU, and the image stays on the host.
	Compress bool
	// TmpDir holds the staging tree while building; it must be on the same
	// file system as the output. "" means the output's directory.
	TmpDir string
	// Limits bound the staged tree; the zero value has generous defaults.
	Limits Limits
}

// Opener opens one layer as an uncompressed tar stream.
type Opener func() (io.ReadCloser, error)

// Result describes a built image.
type Result struct {
	Path     string        `json:"path"`
	Format   Format        `json:"format"`
	Files    int           `json:"files"`    // inodes written
	Bytes    int64         `json:"bytes"`    // regular-file contents
	Size     int64         `json:"size"`     // bytes of the image file (apparent)
	Disk     int64         `json:"disk"`     // bytes the image file occupies (it may be sparse)
	Duration time.Duration `json:"duration"` // apply + mkfs
	Apply    time.Duration `json:"apply"`    // layers applied and the tree written out
	Mkfs     time.Duration `json:"mkfs"`     // mkfs under fakeroot
}

// Build applies layers in order and writes a read-only file system image
// to out, through a temporary file renamed into place, so out is either
// absent or complete.
func Build(ctx context.Context, out string, layers []Opener, o Options) (*Result, error) {
	start := time.Now()
	f, err := ParseFormat(string(o.Format))
	if err != nil {
		return nil, err
	}
	if err := CheckTools(f); err != nil {
		return nil, err
	}
	tmp := o.TmpDir
	if tmp == "" {
		tmp = filepath.Dir(out)
	}
	work, err := os.MkdirTemp(tmp, "rootfs-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	blobs := filepath.Join(work, "blobs")
	if err := os.Mkdir(blobs, 0o755); err != nil {
		return nil, err
	}
	t := NewTree(blobs, o.Limits)
	for i, open := range layers {
		if err := applyOne(ctx, t, open); err != nil {
			return nil, fmt.Errorf("applying layer %d of %d: %w", i+1, len(layers), err)
		}
	}
	s, err := t.materialise(work)
	if err != nil {
		return nil, fmt.Errorf("writing the tree: %w", err)
	}
	applied := time.Now()
	img := filepath.Join(work, "image")
	if err := mkfs(ctx, f, s, img, o.Compress); err != nil {
		return nil, err
	}
	if err := os.Chmod(img, 0o444); err != nil {
		return nil, err
	}
	if err := os.Rename(img, out); err != nil {
		return nil, fmt.Errorf("moving the image into place: %w", err)
	}
	r := &Result{Path: out, Format: f, Files: s.files, Bytes: s.bytes, Duration: time.Since(start),
		Apply: applied.Sub(start), Mkfs: time.Since(applied)}
	r.Size, r.Disk = fileSizes(out)
	return r, nil
}

func applyOne(ctx context.Context, t *Tree, open Opener) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := t.Apply(ctx, rc); err != nil {
		return err
	}
	// Read to the end so a verifying reader below sees EOF and checks its digest.
	_, err = io.Copy(io.Discard, rc)
	return err
}
