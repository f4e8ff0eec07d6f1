package guestimage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrCacheUnusable is returned (wrapped) when the cache directory cannot be created or written.
var ErrCacheUnusable = errors.New("cache directory unusable")

// CacheRoot returns the cache root dir would resolve to: dir itself when set, else $VOIDBOX_CACHE_DIR,
// else $XDG_CACHE_HOME/voidbox, else ~/.cache/voidbox. It does not create anything.
func CacheRoot(dir string) (string, error) {
	switch {
	case dir != "":
	case os.Getenv("VOIDBOX_CACHE_DIR") != "":
		dir = os.Getenv("VOIDBOX_CACHE_DIR")
	case os.Getenv("XDG_CACHE_HOME") != "":
		dir = filepath.Join(os.Getenv("XDG_CACHE_HOME"), "voidbox")
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("%w: no home directory to put ~/.cache/voidbox in (%v); set VOIDBOX_CACHE_DIR",
				ErrCacheUnusable, err)
		}
		dir = filepath.Join(home, ".cache", "voidbox")
	}
	return filepath.Abs(dir)
}

// prepareCacheRoot creates root and proves it writable by creating its tmp/ dir and a file in it, so
// that an unusable cache fails in one sentence before any download starts.
func prepareCacheRoot(root string) error {
	unusable := func(err error) error {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%w: cannot write to %s (%v); make it writable or set VOIDBOX_CACHE_DIR to a writable directory",
			ErrCacheUnusable, root, err)
	}
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o755); err != nil {
		return unusable(err)
	}
	// The probe lives in root, not tmp/: this runs before the cache lock is
	// taken, and the lock holder empties tmp/ (a concurrent set-up once
	// removed another's probe here, failing it).
	f, err := os.CreateTemp(root, ".probe-*")
	if err != nil {
		return unusable(err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return unusable(err)
	}
	return nil
}
