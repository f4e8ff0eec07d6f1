// Package artifact records what a cache wrote — each file's size, sha256
// and modification time — so that a later reader can tell an intact file
// from one a crash, a full disk or a stray edit left behind. Check is the
// cheap test a VM start can afford (size and mtime, one stat); Verify reads
// the file (set-up, doctor).
package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrDamaged is matched (errors.Is) by every *DamagedError.
var ErrDamaged = errors.New("damaged")

// DamagedError says which cached file is not what was written, and how.
type DamagedError struct {
	Path string
	Why  string // "missing", "1000 bytes, 45.1 MB recorded", ...
}

func (e *DamagedError) Error() string { return e.Path + " is damaged (" + e.Why + ")" }

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// Record is what was written at a path.
type Record struct {
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	ModTime int64  `json:"mtime_ns"` // as written; a start compares it without reading the file
}

// Stamp reads the file at path and returns its record.
func Stamp(path string) (Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Record{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return Record{}, err
	}
	if fi.Size() != n {
		return Record{}, fmt.Errorf("%s changed while it was read", path)
	}
	return Record{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), ModTime: fi.ModTime().UnixNano()}, nil
}

// Check compares path's size and modification time with r (one stat).
func (r Record) Check(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &DamagedError{Path: path, Why: missing(err)}
	}
	if fi.Size() != r.Size {
		return &DamagedError{Path: path, Why: fmt.Sprintf("%s, %s recorded", size(fi.Size()), size(r.Size))}
	}
	if fi.ModTime().UnixNano() != r.ModTime {
		return &DamagedError{Path: path, Why: "modified since it was written"}
	}
	return nil
}

// Verify compares path's size and content with r; the modification time
// may differ (a touch changes nothing that boots).
func (r Record) Verify(path string) error {
	got, err := Stamp(path)
	if err != nil {
		return &DamagedError{Path: path, Why: missing(err)}
	}
	if got.Size != r.Size {
		return &DamagedError{Path: path, Why: fmt.Sprintf("%s, %s recorded", size(got.Size), size(r.Size))}
	}
	if got.SHA256 != r.SHA256 {
		return &DamagedError{Path: path, Why: "its content is not what was written"}
	}
	return nil
}

// Set is the records of a directory's files, by slash-separated path
// relative to it.
type Set map[string]Record

// StampAll records the files at rels under dir.
func StampAll(dir string, rels []string) (Set, error) {
	s := Set{}
	for _, rel := range rels {
		r, err := Stamp(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		s[rel] = r
	}
	return s, nil
}

// Check runs Record.Check on every file of s under dir, returning every
// damaged one.
func (s Set) Check(dir string) error { return s.each(dir, Record.Check) }

// Verify runs Record.Verify on every file of s under dir.
func (s Set) Verify(dir string) error { return s.each(dir, Record.Verify) }

func (s Set) each(dir string, f func(Record, string) error) error {
	rels := make([]string, 0, len(s))
	for rel := range s {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	var errs []error
	for _, rel := range rels {
		if err := f(s[rel], filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Damaged lists the paths of every *DamagedError in err (joined or wrapped).
func Damaged(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		var de *DamagedError
		if errors.As(e, &de) && de == e {
			out = append(out, de.Path)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if x := u.Unwrap(); x != nil {
				walk(x)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

func missing(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "missing"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func size(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%d bytes", n)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e6), ".0") + " MB"
}
