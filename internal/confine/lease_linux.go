package confine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// lease is a uid held by one jail: an exclusive flock on <dir>/<uid> for as
// long as the jail lives. The kernel drops it when this process dies, so a
// killed voidbox never leaks a uid; its helpers died with it (parent-death
// signal).
type lease struct {
	f   *os.File
	uid int
}

// leaseUID takes the lowest free uid of the block, so the lock files stay
// as few as the most jails ever alive at once.
func leaseUID(dir string) (*lease, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating uid lease dir: %w", err)
	}
	for i := 0; i < UIDCount; i++ {
		uid := UIDBase + i
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(uid)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("leasing a uid: %w", err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &lease{f: f, uid: uid}, nil
		}
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("leasing uid %d: %w", uid, err)
		}
	}
	return nil, fmt.Errorf("leasing a uid: all %d uids from %d are in use", UIDCount, UIDBase)
}

func (l *lease) release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
