//go:build !unix

package guestimage

import (
	"context"
	"errors"
)

type cacheLock struct{}

func lockCache(context.Context, string, func()) (*cacheLock, error) {
	return nil, errors.New("locking the cache: only supported on unix hosts")
}

func (*cacheLock) Close() error { return nil }
