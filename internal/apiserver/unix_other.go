//go:build !unix

package apiserver

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"

	"github.com/voidbox/voidbox/internal/filelock"
)

// DefaultSocketPath: see the unix version.
func DefaultSocketPath(getenv func(string) string) string {
	return filepath.Join(os.TempDir(), "voidbox", "voidbox.sock")
}

func listenUnix(context.Context, string) (*net.UnixListener, *filelock.Lock, error) {
	return nil, nil, errors.New("unix socket listeners are only supported on unix hosts")
}
