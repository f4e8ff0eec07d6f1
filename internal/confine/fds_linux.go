package confine

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeOnExecStrays marks every descriptor from 3 up that is not
// close-on-exec as close-on-exec, so a jailed helper inherits only what its
// command passes explicitly (stdio and ExtraFiles, which the child gets
// whatever their flag). Go opens every file close-on-exec; such strays come
// from whoever started this process (a shell's or a CI runner's descriptor)
// or from C code, and would otherwise leak into every child.
func closeOnExecStrays() error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < 3 || fd == int(d.Fd()) {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue // closed meanwhile, or already fine
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil {
			return err
		}
	}
	return nil
}
