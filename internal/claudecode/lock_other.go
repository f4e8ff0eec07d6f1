//go:build !unix

package claudecode

import (
	"context"
	"errors"
)

type buildLock struct{}

// lock is unsupported off unix: the flavour is a Linux guest runtime.
func lock(context.Context, string, func()) (*buildLock, error) {
	return nil, errors.New("building the claude-code flavour needs a unix host")
}

func (*buildLock) Close() error { return nil }
