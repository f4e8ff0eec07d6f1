package oci

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// PruneReport says what Prune did.
type PruneReport struct {
	Removed []string `json:"removed"` // image digests
	InUse   []string `json:"in_use"`  // images over the cap that a VM holds
	Freed   int64    `json:"freed"`   // bytes
	Size    int64    `json:"size"`    // bytes the cache holds afterwards
}

// Prune removes least-recently-used images until the cache holds at most
// maxBytes (blobs counted once however many images share them, plus built
// root file systems), skipping images a VM holds, then removes blobs no
// image needs and leftovers of interrupted pulls. maxBytes 0 removes every
// image not in use.
func (s *Store) Prune(ctx context.Context, maxBytes int64) (*PruneReport, error) {
	gc, err := s.lock(ctx, "gc", nil)
	if err != nil {
		return nil, err
	}
	defer gc.Close()
	r := &PruneReport{}
	freed, err := s.sweepBlobs()
	if err != nil {
		return nil, err
	}
	r.Freed += freed
	images, err := s.List()
	if err != nil {
		return nil, err
	}
	sort.SliceStable(images, func(i, j int) bool { return images[i].LastUsed.Before(images[j].LastUsed) })
	total := s.usage(images)
	for i, im := range images {
		if total <= maxBytes {
			break
		}
		err := s.removeImage(im.Digest)
		if errors.Is(err, ErrInUse) {
			r.InUse = append(r.InUse, im.Digest)
			continue
		}
		if err != nil {
			return nil, err
		}
		r.Removed = append(r.Removed, im.Digest)
		images[i] = nil
		var left []*Image
		for _, o := range images {
			if o != nil {
				left = append(left, o)
			}
		}
		now := s.usage(left)
		r.Freed += total - now
		total = now
	}
	if len(r.Removed) > 0 {
		if err := s.updateRefs(ctx, func(m map[string]string) {
			for ref, d := range m {
				for _, gone := range r.Removed {
					if d == gone {
						delete(m, ref)
					}
				}
			}
		}); err != nil {
			return nil, err
		}
		if _, err := s.sweepBlobs(); err != nil {
			return nil, err
		}
	}
	r.Size = total
	return r, nil
}

// usage is the bytes images take: their blobs, each counted once, and
// their built root file systems.
func (s *Store) usage(images []*Image) int64 {
	seen := map[string]bool{}
	var n int64
	for _, im := range images {
		for _, b := range im.blobs() {
			if seen[b] {
				continue
			}
			seen[b] = true
			if fi, err := os.Stat(s.blobPath(b)); err == nil {
				n += fi.Size()
			}
		}
		for _, rf := range im.RootFS {
			n += rf.Size
		}
	}
	return n
}

// builtRootFS lists images/<hex>/rootfs.* files.
func (s *Store) builtRootFS(d string) map[string]RootFS {
	matches, _ := filepath.Glob(filepath.Join(s.imageDir(d), "rootfs.*"))
	if len(matches) == 0 {
		return nil
	}
	out := map[string]RootFS{}
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			out[strings.TrimPrefix(filepath.Ext(m), ".")] = RootFS{Path: m, Size: fi.Size()}
		}
	}
	return out
}
