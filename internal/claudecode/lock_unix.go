//go:build unix

package claudecode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// buildLock is an exclusive flock(2) on a file in the cache. flock locks
// belong to the open file description, so two builds in one process
// exclude each other as two processes do, and the kernel drops the lock
// when a process dies.
type buildLock struct{ f *os.File }

// lock blocks until it holds the lock or ctx is done, calling waiting once
// if it has to wait. It polls with LOCK_NB because a blocking flock cannot
// be interrupted by ctx.
func lock(ctx context.Context, path string, waiting func()) (*buildLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	announced := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &buildLock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !announced && waiting != nil {
			waiting()
			announced = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close releases the lock. It is safe to call more than once.
func (l *buildLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
