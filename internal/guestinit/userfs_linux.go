package guestinit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Every filesystem the sandbox user can write is RAM: the initramfs root and
// tmpfs mounts. Each tmpfs defaults to half the memory, so two of them
// filled together (dd into /tmp, then into /workspace) left the kernel
// nothing and it panicked ("System is deadlocked on memory"): the OOM killer
// cannot free tmpfs pages by killing processes. So those places are
// directories of ONE tmpfs, bind-mounted where they belong, with one size:
// a write past it fails with ENOSPC and the memory beyond it stays free for
// processes, which the OOM killer can reclaim. Anything else uid 1000 could
// write is closed at boot (the root directory, SysV shared memory).

// userDir is one place of the sandbox user's budget.
type userDir struct {
	sub, target string
	mode        os.FileMode
	owned       bool // owned by the sandbox user, else root's (sticky, world-writable)
}

var userDirs = []userDir{
	{"workspace", WorkspaceDir, 0o755, true},
	{"home", SandboxHome, 0o755, true},
	{"tmp", "/tmp", 0o777 | os.ModeSticky, false},
	{"shm", "/dev/shm", 0o777 | os.ModeSticky, false},
}

const (
	// userFSStage is where the budget's tmpfs is mounted while its
	// directories are bound into place; it is detached afterwards.
	userFSStage = "/run/voidbox-userfs"
	// guestReserve is memory the budget may never take: PID 1, the kernel's
	// own allocations under pressure (page tables, slab, socket buffers)
	// and room for the OOM killer to make progress.
	guestReserve = 16 << 20
	// bytesPerInode bounds the files of the budget: tmpfs inodes (~1 KiB
	// of kernel memory each) are not counted in its size, so their number
	// is capped at one per 8 KiB and their memory (≤ 1/8 of the budget)
	// is counted against the guest's memory.
	bytesPerInode = 8 << 10
	minDisk       = 16 << 20
)

// diskBudget decides the size of the budget: requested (0 for the default,
// half of avail) must fit, with its inodes, in avail (the memory free after
// boot) less guestReserve.
func diskBudget(requested, avail int64) (int64, error) {
	most := (avail - guestReserve) * 8 / 9 // size + size/8 of inodes ≤ avail − reserve
	most &^= 1<<20 - 1
	if most < minDisk {
		return 0, fmt.Errorf("disk budget: the guest has only %d MiB of memory free after boot, too little for a %d MiB disk "+
			"beside its own %d MiB: give the VM more memory", avail>>20, minDisk>>20, guestReserve>>20)
	}
	if requested == 0 {
		return min(avail/2&^(1<<20-1), most), nil
	}
	if requested > most {
		return 0, fmt.Errorf("disk budget of %d MiB does not fit: the guest has %d MiB of memory free after boot and keeps "+
			"%d MiB and the disk's inodes for itself; at most %d MiB (or give the VM more memory)",
			requested>>20, avail>>20, guestReserve>>20, most>>20)
	}
	return requested, nil
}

// mountUserFS mounts the sandbox user's budget of size bytes (0: default)
// and returns the size used. With an image, overlay mounts the image root
// with its writable layer in the same tmpfs (its argument is where the
// tmpfs is staged), before the user's directories are queued on b to be
// bound into the view. Precondition: no command has run yet.
func mountUserFS(requested int64, b *batch, overlay func(stage string) error) (int64, error) {
	avail, err := memAvailable()
	if err != nil {
		return 0, err
	}
	size, err := diskBudget(requested, avail)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(userFSStage, 0o700); err != nil {
		return 0, err
	}
	opts := fmt.Sprintf("size=%d,nr_inodes=%d,mode=0755", size, size/bytesPerInode)
	if err := unix.Mount("tmpfs", userFSStage, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return 0, fmt.Errorf("mounting the sandbox user's tmpfs: %w", err)
	}
	if overlay != nil {
		if err := overlay(userFSStage); err != nil {
			return 0, err
		}
	}
	for _, d := range userDirs {
		if err := bindUserDir(d, b); err != nil {
			return 0, fmt.Errorf("mounting %s: %w", d.target, err)
		}
	}
	// The binds (and the overlay) keep the filesystem; the staging path goes.
	if err := unix.Unmount(userFSStage, unix.MNT_DETACH); err != nil {
		return 0, fmt.Errorf("detaching %s: %w", userFSStage, err)
	}
	_ = os.Remove(userFSStage)
	return size, nil
}

func bindUserDir(d userDir, b *batch) error {
	src := userFSStage + "/" + d.sub
	if err := os.Mkdir(src, 0o700); err != nil {
		return err
	}
	if d.owned {
		if err := os.Chown(src, SandboxUID, SandboxGID); err != nil {
			return err
		}
	}
	if err := os.Chmod(src, d.mode); err != nil { // umask-independent, sticky bit included
		return err
	}
	fd, err := cloneTree(src, false, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return err
	}
	b.attach(fd, d.target)
	return nil
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemAvailable:")); ok {
			f := bytes.Fields(v)
			if len(f) == 2 && string(f[1]) == "kB" {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, errors.New("no MemAvailable in /proc/meminfo")
}

// closeOtherWrites removes what else the sandbox user could fill with
// memory that outlives its processes: the initramfs root is a world-writable
// tmpfs root (mode 1777), and SysV shared memory segments stay after their
// creator exits unless removal is forced.
func closeOtherWrites() error {
	if err := os.Chmod("/", 0o755); err != nil {
		return fmt.Errorf("closing the root directory: %w", err)
	}
	if err := os.WriteFile("/proc/sys/kernel/shm_rmid_forced", []byte("1"), 0); err != nil {
		return fmt.Errorf("forcing removal of SysV shared memory: %w", err)
	}
	return nil
}
