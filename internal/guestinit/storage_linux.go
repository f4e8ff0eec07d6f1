package guestinit

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

// Where an OCI root is assembled, in PID 1's view (the initramfs's /run,
// which commands in the image never see).
const (
	imageLower = "/run/voidbox/lower" // the image's erofs, read-only
	imageRoot  = "/run/voidbox/root"  // the overlay commands are chrooted into
	// agentDir holds the built-in agent in agent stages' initramfs; an
	// image root gets it bound in read-only, at the same path.
	agentDir = "/usr/lib/voidbox"
)

// diskWait bounds the wait for a disk to appear once virtio_blk is loaded.
const diskWait = 10 * time.Second

// setupStorage mounts what the handshake asks for and returns the view
// commands will see: the sandbox user's disk budget always, and an OCI
// root, read-only images and host shares when asked. Precondition: no
// command has run yet. It returns the budget's size.
func setupStorage(pol wire.Policy, st wire.Storage) (view, int64, error) {
	for _, d := range pol.TrustedDirs {
		ok := false
		for _, im := range st.Images {
			ok = ok || d == path.Join(im.Path, "bin")
		}
		if !ok {
			return view{}, 0, fmt.Errorf("trusted directory %s is not the bin/ of a read-only image mount", d)
		}
	}
	var mods []string
	if st.Root != nil || len(st.Images) > 0 {
		mods = append(mods, "virtio_blk", "erofs")
	}
	if st.Root != nil {
		mods = append(mods, "overlay")
	}
	if len(st.Shares) > 0 {
		mods = append(mods, "virtiofs")
	}
	if len(mods) > 0 {
		if err := ensureModules(ModulesFile, mods...); err != nil {
			return view{}, 0, err
		}
	}
	var v view
	b := &batch{}
	defer b.close()
	var overlay func(stage string) error
	if st.Root != nil {
		dev, err := findDisk(st.Root.Serial)
		if err != nil {
			return view{}, 0, fmt.Errorf("the image root: %w", err)
		}
		readAhead(dev)
		if err := os.MkdirAll(imageLower, 0o700); err != nil {
			return view{}, 0, err
		}
		if err := unix.Mount(dev, imageLower, "erofs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return view{}, 0, fmt.Errorf("mounting the image root (%s): %w", dev, err)
		}
		v = view{root: imageRoot}
		overlay = func(stage string) error { return mountOverlay(b, stage) }
	}
	b.v = v
	size, err := mountUserFS(pol.DiskBytes, b, overlay)
	if err != nil {
		return view{}, 0, err
	}
	if v.root != "" {
		if err := finishImageRoot(b); err != nil {
			return view{}, 0, err
		}
	}
	for _, im := range st.Images {
		if err := mountImage(b, im); err != nil {
			return view{}, 0, err
		}
	}
	for _, sh := range st.Shares {
		if err := mountShare(b, sh); err != nil {
			return view{}, 0, err
		}
	}
	if err := b.flush(); err != nil {
		return view{}, 0, err
	}
	return v, size, nil
}

// mountOverlay mounts the image root: the erofs below, the writable layer
// in the disk budget's tmpfs (stage) above, then the system mounts inside.
// setuid bits and device nodes of the image do nothing (nosuid, nodev): a
// setuid-root program of the image must not make the sandbox user root.
func mountOverlay(b *batch, stage string) error {
	for _, d := range []string{stage + "/upper", stage + "/work", imageRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := "lowerdir=" + imageLower + ",upperdir=" + stage + "/upper,workdir=" + stage + "/work"
	if err := unix.Mount("overlay", imageRoot, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting the image's writable layer: %w", err)
	}
	system := []struct {
		src       string
		recursive bool
		attrs     uint64
	}{
		{"/proc", false, 0},
		{"/sys", true, 0},
		{"/dev", true, 0}, // with /dev/pts; /dev/shm comes with the budget
	}
	for _, m := range system {
		fd, err := cloneTree(m.src, m.recursive, m.attrs)
		if err != nil {
			return err
		}
		b.attach(fd, m.src)
	}
	// A /run of its own, empty and root's: the image's /run (its /run/lock
	// may be world-writable) is covered.
	fd, err := newMount("tmpfs", [][2]string{{"mode", "0755"}, {"size", "16m"}}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return err
	}
	b.attach(fd, "/run")
	return nil
}

// finishImageRoot makes the image usable by voidbox: the agent binary
// bound in read-only (agent stages), and a passwd entry for the sandbox
// user if the image has none, so tools that look up their user (git,
// python's getpass, ssh) find one.
func finishImageRoot(b *batch) error {
	if fi, err := os.Stat(agentDir); err == nil && fi.IsDir() {
		fd, err := cloneTree(agentDir, false, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
		if err != nil {
			return err
		}
		b.attach(fd, agentDir)
	}
	b.do(func() error {
		if err := ensureEntry("/etc/passwd", fmt.Sprintf("sandbox:x:%d:%d:voidbox sandbox user:%s:/bin/sh", SandboxUID, SandboxGID, SandboxHome)); err != nil {
			return err
		}
		return ensureEntry("/etc/group", fmt.Sprintf("sandbox:x:%d:", SandboxGID))
	})
	return nil
}

// ensureEntry appends entry to the passwd-style file p (in the view) unless
// an entry with its id (third field) is there. A missing file is created.
func ensureEntry(p, entry string) error {
	id := strings.Split(entry, ":")[2]
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, ":"); len(f) > 2 && f[2] == id {
			return nil
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		entry = "\n" + entry
	}
	if err := os.MkdirAll(path.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("adding the sandbox user to %s: %w", p, err)
	}
	_, err = f.WriteString(entry + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// mountImage mounts a read-only erofs disk (an OCI skill) at its path in
// the view.
func mountImage(b *batch, im wire.DiskMount) error {
	if !path.IsAbs(im.Path) || path.Clean(im.Path) != im.Path || im.Path == "/" {
		return fmt.Errorf("image %s: bad guest path %q", im.Serial, im.Path)
	}
	dev, err := findDisk(im.Serial)
	if err != nil {
		return fmt.Errorf("image at %s: %w", im.Path, err)
	}
	fd, err := newMount("erofs", [][2]string{{"source", dev}},
		unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return fmt.Errorf("image at %s (%s): %w", im.Path, dev, err)
	}
	b.attach(fd, im.Path)
	return nil
}

// mountShare mounts a host directory (virtiofs) at its path in the view.
func mountShare(b *batch, sh wire.Share) error {
	if !path.IsAbs(sh.Path) || path.Clean(sh.Path) != sh.Path || sh.Path == "/" || sh.Tag == "" {
		return fmt.Errorf("share %q: bad guest path %q", sh.Tag, sh.Path)
	}
	attrs := unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	if sh.ReadOnly {
		attrs |= unix.MOUNT_ATTR_RDONLY
	}
	fd, err := newMount("virtiofs", [][2]string{{"source", sh.Tag}}, attrs)
	if err != nil {
		return fmt.Errorf("host mount at %s: %w", sh.Path, err)
	}
	b.attach(fd, sh.Path)
	return nil
}

// findDisk waits for the virtio-blk disk whose serial is serial and
// returns its device node.
func findDisk(serial string) (string, error) {
	if serial == "" || len(serial) > wire.MaxSerial || strings.ContainsAny(serial, "/\x00") {
		return "", fmt.Errorf("bad disk serial %q", serial)
	}
	deadline := time.Now().Add(diskWait)
	for {
		blocks, _ := filepath.Glob("/sys/block/vd*")
		for _, b := range blocks {
			s, err := os.ReadFile(b + "/serial")
			if err == nil && strings.TrimSpace(string(s)) == serial {
				dev := "/dev/" + filepath.Base(b)
				if _, err := os.Stat(dev); err == nil {
					return dev, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no disk with serial %s appeared within %v", serial, diskWait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// readAhead widens the disk's readahead: a program's first exec from an
// image faults its loader and libraries in from the disk, and each
// virtio-blk request costs a trip through QEMU (TCG: an emulated one).
func readAhead(dev string) {
	_ = os.WriteFile("/sys/block/"+filepath.Base(dev)+"/queue/read_ahead_kb", []byte("2048"), 0)
}
