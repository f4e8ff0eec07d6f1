//go:build !unix

package filelock

import (
	"context"
	"errors"
)

// ErrBusy is returned by TryExclusive when another holder has the lock.
var ErrBusy = errors.New("lock held by another")

// AcquireShared fails: file locking is only implemented for unix hosts.
func AcquireShared(context.Context, string, func()) (*Lock, error) {
	return nil, errors.New("file locks are only supported on unix hosts")
}

// TryExclusive fails: file locking is only implemented for unix hosts.
func TryExclusive(string) (*Lock, error) {
	return nil, errors.New("file locks are only supported on unix hosts")
}
