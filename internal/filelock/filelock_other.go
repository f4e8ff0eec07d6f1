//go:build !unix

package filelock

import (
	"context"
	"errors"
)

// Lock is not available off unix.
type Lock struct{}

// Acquire fails: file locking is only implemented for unix hosts.
func Acquire(context.Context, string, func()) (*Lock, error) {
	return nil, errors.New("file locks are only supported on unix hosts")
}

// Close does nothing.
func (*Lock) Close() error { return nil }
