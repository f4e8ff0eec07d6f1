package guestinit

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// view is the file system commands and file requests see: the initramfs
// (root "") or, for a VM booted from an OCI image, the image's overlay at
// root. PID 1 itself always stays in the initramfs, where its modules,
// its manifest and the agent binary are; it never changes its own root.
// Everything it does on the guest user's behalf happens in the view:
// commands are started chrooted into it, and file requests run on a thread
// of their own that is chrooted into it, so a path (and every symlink on
// it, absolute or not) resolves exactly as it does for a command.
type view struct {
	root string // "" for the initramfs root
}

// as runs fn in the view: on a dedicated OS thread chrooted into the view
// (for an image), with the sandbox user's filesystem uid and gid unless
// asRoot, so a host request on a path the sandbox user controls (a symlink
// planted in /workspace, say) can never do more than that user could.
// The thread is discarded afterwards (never unlocked), so its root and
// credentials never leak to other goroutines.
func (v view) as(asRoot bool, fn func() error) error {
	if asRoot && v.root == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if v.root != "" {
			// CLONE_FS gives this thread its own root and working directory.
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				errc <- fmt.Errorf("entering the image root: %w", err)
				return
			}
			if err := unix.Chroot(v.root); err != nil {
				errc <- fmt.Errorf("entering the image root: %w", err)
				return
			}
			if err := unix.Chdir("/"); err != nil {
				errc <- fmt.Errorf("entering the image root: %w", err)
				return
			}
		}
		if !asRoot {
			// setfsuid/setfsgid are per-thread and do not report errors
			// usefully; verify by reading the value back.
			unix.Setfsgid(SandboxGID)
			unix.Setfsuid(SandboxUID)
			if cur, _ := unix.SetfsuidRetUid(-1); cur != SandboxUID {
				errc <- errors.New("switching filesystem uid failed")
				return
			}
		}
		errc <- fn()
	}()
	return <-errc
}

// batch collects detached mounts (from open_tree or fsmount) and other
// steps to take in a view, in order, so that an image root is assembled on
// one chrooted thread rather than one per mount. Every mount point is
// resolved in the view, so a symlink in an image can only lead elsewhere
// in the image.
type batch struct {
	v     view
	steps []step
}

type step struct {
	fd   int    // a detached mount to move onto path, or -1
	path string // in the view
	fn   func() error
}

// attach queues moving the detached mount fd onto the directory p of the
// view (created, as root, if needed). The batch owns fd from here on.
func (b *batch) attach(fd int, p string) { b.steps = append(b.steps, step{fd: fd, path: p}) }

// do queues fn, run in the view as root.
func (b *batch) do(fn func() error) { b.steps = append(b.steps, step{fd: -1, fn: fn}) }

// flush takes the queued steps in order and closes every fd, whatever
// happens.
func (b *batch) flush() error {
	steps := b.steps
	b.steps = nil
	defer func() {
		for _, s := range steps {
			if s.fd >= 0 {
				unix.Close(s.fd)
			}
		}
	}()
	return b.v.as(true, func() error {
		for _, s := range steps {
			if s.fn != nil {
				if err := s.fn(); err != nil {
					return err
				}
				continue
			}
			if err := mountPoint(s.path); err != nil {
				return err
			}
			if err := unix.MoveMount(s.fd, "", unix.AT_FDCWD, s.path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
				return fmt.Errorf("mounting on %s: %w", s.path, err)
			}
		}
		return nil
	})
}

// close drops what was queued, for error paths.
func (b *batch) close() {
	for _, s := range b.steps {
		if s.fd >= 0 {
			unix.Close(s.fd)
		}
	}
	b.steps = nil
}

// mountPoint makes p a directory to mount on: created with its parents
// when missing; an image's file or symlink in the way is replaced (in the
// writable layer), since a mount always covers what is there.
func mountPoint(p string) error {
	fi, err := os.Lstat(p)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("mount point %s: %w", p, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("mount point %s: %w", p, err)
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("mount point %s: %w", p, err)
	}
	return nil
}

// cloneTree is a detached copy of the mount at p in PID 1's view (a bind
// mount not attached anywhere yet), with its submounts if recursive, and
// attrs (unix.MOUNT_ATTR_*) set on it.
func cloneTree(p string, recursive bool, attrs uint64) (int, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, p, flags)
	if err != nil {
		return -1, fmt.Errorf("cloning the mount %s: %w", p, err)
	}
	if attrs != 0 {
		at := uint(unix.AT_EMPTY_PATH)
		if recursive {
			at |= unix.AT_RECURSIVE
		}
		if err := unix.MountSetattr(fd, "", at, &unix.MountAttr{Attr_set: attrs}); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("setting flags on %s: %w", p, err)
		}
	}
	return fd, nil
}

// newMount is a detached new mount of fstype (fsopen/fsmount) with the
// given string options and attrs (unix.MOUNT_ATTR_*). A read-only mount
// (MOUNT_ATTR_RDONLY) gets a read-only superblock as well: a read-only
// disk cannot even be opened for writing.
func newMount(fstype string, opts [][2]string, attrs int) (int, error) {
	fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", fstype, err)
	}
	defer unix.Close(fsfd)
	if attrs&unix.MOUNT_ATTR_RDONLY != 0 {
		if err := unix.FsconfigSetFlag(fsfd, "ro"); err != nil {
			return -1, fmt.Errorf("%s: ro: %w", fstype, err)
		}
	}
	for _, o := range opts {
		if err := unix.FsconfigSetString(fsfd, o[0], o[1]); err != nil {
			return -1, fmt.Errorf("%s: %s=%s: %w", fstype, o[0], o[1], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("%s: %w", fstype, err)
	}
	fd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", fstype, err)
	}
	return fd, nil
}
