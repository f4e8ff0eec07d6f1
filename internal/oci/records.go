package oci

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/voidbox/voidbox/internal/artifact"
)

// records.json in an image directory records its built root file systems
// as written; one that is missing its record (its build died before
// recording it, or an older voidbox built it) is built again.
const recordsName = "records.json"

func (s *Store) readRecords(d string) artifact.Set {
	var set artifact.Set
	if b, err := os.ReadFile(filepath.Join(s.imageDir(d), recordsName)); err == nil {
		_ = json.Unmarshal(b, &set)
	}
	return set
}

// rootFSIntact checks a built root file system's size and mtime against its record.
func (s *Store) rootFSIntact(d, path string) error {
	r, ok := s.readRecords(d)[filepath.Base(path)]
	if !ok {
		return &artifact.DamagedError{Path: path, Why: "not recorded by a finished build"}
	}
	return r.Check(path)
}

// recordRootFS records the root file system just built at path.
// Precondition: the image lock is held.
func (s *Store) recordRootFS(d, path string) error {
	r, err := artifact.Stamp(path)
	if err != nil {
		return err
	}
	set := s.readRecords(d)
	if set == nil {
		set = artifact.Set{}
	}
	set[filepath.Base(path)] = r
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, "tmp"), filepath.Join(s.imageDir(d), recordsName), b)
}

// Verify reads every blob of every image record (its name is its digest,
// its size is in the record) and every built root file system (against
// records.json), and returns the damaged ones, or nil. It changes nothing:
// a pull or build replaces what is damaged.
func (s *Store) Verify() error {
	dirs, _ := filepath.Glob(filepath.Join(s.dir, "images", "*"))
	var errs []error
	checked := map[string]bool{}
	blob := func(d string, size int64) {
		if checked[d] || validDigest(d) != nil {
			return
		}
		checked[d] = true
		p := s.blobPath(d)
		want := artifact.Record{Size: size, SHA256: strings.TrimPrefix(d, "sha256:")}
		if size < 0 {
			fi, err := os.Stat(p)
			if err != nil {
				errs = append(errs, &artifact.DamagedError{Path: p, Why: "missing"})
				return
			}
			want.Size = fi.Size()
		}
		errs = append(errs, want.Verify(p))
	}
	for _, dir := range dirs {
		d := "sha256:" + filepath.Base(dir)
		im, err := s.readRecord(d)
		if err != nil {
			continue // an unfinished pull: nothing uses it
		}
		blob(im.Config, -1)
		for _, l := range im.Layers {
			blob(l.Digest, l.Size)
		}
		for name, r := range s.readRecords(d) {
			errs = append(errs, r.Verify(filepath.Join(dir, name)))
		}
	}
	return errors.Join(errs...)
}
