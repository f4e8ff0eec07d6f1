//go:build unix

// Package filelock is an exclusive, context-aware flock(2) on a file, used to
// keep concurrent set-ups (in one process or several) from building the same
// cache entry twice.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is a held lock. flock locks belong to the open file description, so
// two Locks in one process exclude each other as two processes do, and the
// kernel drops the lock when the process dies.
type Lock struct{ f *os.File }

// Acquire blocks until it holds the lock on path (created if needed) or ctx
// is done, calling waiting once if it has to wait. It polls with LOCK_NB
// because a blocking flock cannot be interrupted by ctx.
func Acquire(ctx context.Context, path string, waiting func()) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	announced := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
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
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close releases the lock. It is safe to call more than once.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
