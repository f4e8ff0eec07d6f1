package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// ErrNotFound reports a snapshot name with no snapshot.
var ErrNotFound = errors.New("no such snapshot")

// Store is a directory of named snapshots, one subdirectory each.
type Store struct {
	Dir string
}

// ValidName reports whether name can name a snapshot: 1..64 of [a-z0-9._-],
// not starting with '.'.
func ValidName(name string) bool {
	return name != "" && len(name) <= 64 && name[0] != '.' &&
		strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == ""
}

// Path is the directory of the snapshot called name.
func (s Store) Path(name string) string { return filepath.Join(s.Dir, name) }

// Resolve finds a snapshot by name in the store or, when ref contains a
// '/', by directory path.
func (s Store) Resolve(ref string) (string, error) {
	dir := ref
	if !strings.Contains(ref, "/") {
		if !ValidName(ref) {
			return "", fmt.Errorf("snapshot name %q: want 1..64 of [a-z0-9._-]", ref)
		}
		dir = s.Path(ref)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, MetaFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		return "", err
	}
	return dir, CheckPrivate(dir)
}

// CheckPrivate refuses a snapshot directory another user could read or
// write: it holds guest memory and the parked guest's secret.
func CheckPrivate(dir string) error {
	for _, f := range []string{"", MemoryFile, StateFile, MetaFile} {
		p := filepath.Join(dir, f)
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", dir, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("snapshot %s: %s is mode %o, want no access for group and others", dir, p, fi.Mode().Perm())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
			return fmt.Errorf("snapshot %s: %s is owned by uid %d, not us", dir, p, st.Uid)
		}
	}
	return nil
}

// Entry is one snapshot of a store.
type Entry struct {
	Name string
	Dir  string
	Meta Meta
	Err  error // why its meta.json could not be read
}

// List returns the store's snapshots by name.
func (s Store) List() ([]Entry, error) {
	des, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if !de.IsDir() || !ValidName(de.Name()) {
			continue
		}
		e := Entry{Name: de.Name(), Dir: s.Path(de.Name())}
		e.Meta, e.Err = Read(e.Dir)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Remove deletes the snapshot called name.
func (s Store) Remove(name string) error {
	dir, err := s.Resolve(name)
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// Create makes the empty private directory of a new snapshot called name
// (refused if it exists). The caller fills it and removes it on failure.
func (s Store) Create(name string) (string, error) {
	if !ValidName(name) {
		return "", fmt.Errorf("snapshot name %q: want 1..64 of [a-z0-9._-]", name)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", err
	}
	dir := s.Path(name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("snapshot %q exists (voidbox snapshot rm %s)", name, name)
		}
		return "", err
	}
	return dir, os.Chmod(dir, 0o700)
}
