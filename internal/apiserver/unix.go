//go:build unix

package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/filelock"
)

// DefaultSocketPath is $XDG_RUNTIME_DIR/voidbox/voidbox.sock, or without a
// runtime dir /tmp/voidbox-UID/voidbox.sock (listenUnix checks the directory
// is the user's own and private).
func DefaultSocketPath(getenv func(string) string) string {
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "voidbox", "voidbox.sock")
	}
	return filepath.Join(os.TempDir(), "voidbox-"+strconv.Itoa(os.Geteuid()), "voidbox.sock")
}

// listenUnix listens on path with mode 0600. PATH.lock is held for the
// listener's life: if another daemon holds it the socket is live and this
// fails; if not, a socket left at path is a dead daemon's and is replaced.
// Something at path that is not a socket is never removed.
func listenUnix(ctx context.Context, path string) (*net.UnixListener, *filelock.Lock, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	if err := checkPrivateDir(dir); err != nil {
		return nil, nil, err
	}
	lockCtx, cancel := context.WithCancel(ctx)
	lock, err := filelock.Acquire(lockCtx, path+".lock", cancel)
	cancel()
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() == nil {
			return nil, nil, fmt.Errorf("%s: another voidbox daemon is serving it", path)
		}
		return nil, nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			lock.Close()
			return nil, nil, fmt.Errorf("%s: exists and is not a socket; not replacing it", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			lock.Close()
			return nil, nil, fmt.Errorf("%s: a live server answers on it", path)
		}
		if err := os.Remove(path); err != nil {
			lock.Close()
			return nil, nil, fmt.Errorf("removing stale socket: %w", err)
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	// The private directory already keeps others out between bind and chmod.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		lock.Close()
		return nil, nil, err
	}
	return l, lock, nil
}

// checkPrivateDir: the socket's directory must be ours and writable by no
// one else, or someone else could swap the socket for their own.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s: owned by uid %d, not us", dir, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s: mode %v lets others write in it", dir, fi.Mode().Perm())
	}
	return nil
}
