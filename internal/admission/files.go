//go:build unix

package admission

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Kinds of files in the directory (the first letter of their names).
const (
	kindTicket = 'w'
	kindBoot   = 'b'
	kindMemory = 'm'
)

// entry is one file of the directory, decoded from its name.
type entry struct {
	kind byte
	seq  uint64
	mem  int64 // tickets and memory reservations
}

// fileName encodes e: seq is zero-padded so names sort in queue order.
func (e entry) fileName() string {
	if e.kind == kindBoot {
		return fmt.Sprintf("b-%016d", e.seq)
	}
	return fmt.Sprintf("%c-%016d-%d", e.kind, e.seq, e.mem)
}

func parseName(name string) (entry, bool) {
	parts := strings.Split(name, "-")
	if len(parts) < 2 || len(parts[0]) != 1 {
		return entry{}, false
	}
	e := entry{kind: parts[0][0]}
	seq, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return entry{}, false
	}
	e.seq = seq
	switch {
	case e.kind == kindBoot && len(parts) == 2:
		return e, true
	case (e.kind == kindTicket || e.kind == kindMemory) && len(parts) == 3:
		mem, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil || mem < 0 {
			return entry{}, false
		}
		e.mem = mem
		return e, true
	}
	return entry{}, false
}

// list returns the directory's entries in queue order, removing stale
// temporaries of creators that died mid-creation.
func list(dir string) ([]entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("admission: %w", err)
	}
	var ents []entry
	for _, de := range des {
		if e, ok := parseName(de.Name()); ok {
			ents = append(ents, e)
			continue
		}
		if strings.HasPrefix(de.Name(), ".new-") {
			removeStalePath(filepath.Join(dir, de.Name()), time.Minute)
		}
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].seq < ents[j].seq })
	return ents, nil
}

// createLocked creates dir/name holding content, exclusively flocked by
// the returned file: it is written and locked under a temporary name and
// renamed into place, so no one sees the final name unlocked.
func createLocked(dir, name string, content []byte) (*os.File, error) {
	for range 3 {
		f, err := os.CreateTemp(dir, ".new-*")
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		if _, err := f.Write(content); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
		err = os.Rename(f.Name(), filepath.Join(dir, name))
		if err == nil {
			return f, nil
		}
		f.Close()
		os.Remove(f.Name())
		// A cleaner removed the temporary in the instant before it was
		// locked (it is only removed when unlocked): make another.
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("creating %s: its temporary file kept disappearing", name)
}

// removeIfStale removes e's file when no process holds its lock and says
// whether it is gone (stale or already removed).
func removeIfStale(dir string, e entry) bool {
	return removeStalePath(filepath.Join(dir, e.fileName()), 0)
}

// removeStalePath removes path when it is unlocked and older than minAge.
func removeStalePath(path string, minAge time.Duration) bool {
	f, err := os.Open(path)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	defer f.Close()
	if minAge > 0 {
		if fi, err := f.Stat(); err != nil || time.Since(fi.ModTime()) < minAge {
			return false
		}
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return false // held: its owner lives
	}
	// Unlocked: its owner is gone (the kernel dropped the lock when the
	// process died). Our lock is released when f closes, after the removal.
	os.Remove(path)
	return true
}

// lockState takes the directory's decision lock, polling so that ctx is
// honoured; it is only ever held for a directory listing and a few file
// operations.
func lockState(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("admission: %w", err)
	}
	delay := 500 * time.Microsecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("admission: locking: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, context.Cause(ctx)
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Millisecond)
	}
}
