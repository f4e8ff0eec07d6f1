package guestimage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeFileAtomic writes data to path through a temp file in tmpDir and a rename, so readers see the
// old file or the whole new one, never a part.
func writeFileAtomic(tmpDir, path string, data []byte, perm os.FileMode) error {
	return writeAtomic(tmpDir, path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic runs fill on a temp file in tmpDir and renames it to path once fill and an fsync succeed.
// Precondition: tmpDir and path are on the same file system (both inside the cache root).
func writeAtomic(tmpDir, path string, perm os.FileMode, fill func(io.Writer) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(tmpDir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("renaming into place: %w", err)
	}
	return nil
}

// replaceDir moves the fully written directory staged to final, removing an older final first.
// Precondition: the cache lock is held, so nobody else is between the remove and the rename.
func replaceDir(staged, final string) error {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	return os.Rename(staged, final)
}
