package rootfs

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// staged is a tree written below a host directory, with the metadata the
// host files do not carry.
type staged struct {
	root   string // the directory mkfs reads
	state  string // fakeroot state file: dev,ino → mode, owner, rdev
	xattrs string // setfattr --restore dump; "" when no file has xattrs
	files  int
	bytes  int64
}

// materialise writes t below dir/root. It creates every directory itself
// (mkdirat below a directory it made) and every other file as a leaf, so no
// host path it writes goes through a symlink of the image.
func (t *Tree) materialise(dir string) (*staged, error) {
	s := &staged{root: filepath.Join(dir, "root"), state: filepath.Join(dir, "fakeroot.state")}
	if err := os.Mkdir(s.root, 0o755); err != nil {
		return nil, err
	}
	sf, err := os.Create(s.state)
	if err != nil {
		return nil, err
	}
	defer sf.Close()
	state := bufio.NewWriter(sf)
	var xattrs strings.Builder
	first := map[*inode]string{} // hard links: the inode's first host path
	var mtimes []pathTime

	var visit func(n *node, p string) error
	visit = func(n *node, p string) error {
		ino := n.ino
		if n.parent != nil {
			if prev, ok := first[ino]; ok {
				if err := os.Link(prev, p); err != nil { // linkat(2) without AT_SYMLINK_FOLLOW
					return err
				}
				return nil // the first name already carries the metadata
			}
			if err := create(ino, p); err != nil {
				return fmt.Errorf("%s: %w", n.path(), err)
			}
			first[ino] = p
		}
		s.files++
		s.bytes += ino.size
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		// faked.c's save/load format (fakeroot -s/-i); nlink is the real one
		// so that the later hard links (not yet made) do not matter.
		fmt.Fprintf(state, "dev=%x,ino=%d,mode=%o,uid=%d,gid=%d,nlink=%d,rdev=%d\n",
			st.Dev, st.Ino, modeOf(ino), ino.uid, ino.gid, st.Nlink, unix.Mkdev(ino.major, ino.minor))
		if len(ino.xattrs) > 0 {
			writeXattrs(&xattrs, p, ino.xattrs)
		}
		if !ino.mtime.IsZero() {
			mtimes = append(mtimes, pathTime{p, ino.mtime})
		}
		for _, k := range n.sortedKids() {
			if err := visit(k, filepath.Join(p, k.name)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(t.root, s.root); err != nil {
		return nil, err
	}
	// Hard links added after a file's line raise its real nlink; fakeroot
	// keys by dev and ino only, and mkfs counts links itself.
	if err := state.Flush(); err != nil {
		return nil, err
	}
	// Times last, deepest first: creating a child changes its directory's mtime.
	for i := len(mtimes) - 1; i >= 0; i-- {
		ts := []unix.Timespec{unix.NsecToTimespec(mtimes[i].t.UnixNano()), unix.NsecToTimespec(mtimes[i].t.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, mtimes[i].p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, fmt.Errorf("setting times of %s: %w", mtimes[i].p, err)
		}
	}
	if xattrs.Len() > 0 {
		s.xattrs = filepath.Join(dir, "xattrs")
		if err := os.WriteFile(s.xattrs, []byte(xattrs.String()), 0o644); err != nil {
			return nil, err
		}
	}
	return s, sf.Close()
}

type pathTime struct {
	p string
	t time.Time
}

// create makes the host file for ino at p. Device nodes and FIFOs are empty
// regular files here: the state file gives them their type and numbers.
func create(ino *inode, p string) error {
	switch ino.kind {
	case KindDir:
		return os.Mkdir(p, 0o755)
	case KindFile:
		return os.Rename(ino.blob, p)
	case KindSymlink:
		return os.Symlink(ino.target, p)
	default:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		return f.Close()
	}
}

// modeOf is st_mode: the type bits and the permission bits.
func modeOf(ino *inode) uint32 {
	t := map[Kind]uint32{KindDir: unix.S_IFDIR, KindFile: unix.S_IFREG, KindSymlink: unix.S_IFLNK,
		KindChar: unix.S_IFCHR, KindBlock: unix.S_IFBLK, KindFIFO: unix.S_IFIFO}[ino.kind]
	return t | ino.perm
}

// writeXattrs appends one file's record in getfattr --dump's format, which
// setfattr --restore reads: "# file: NAME", then NAME=0sBASE64 lines.
func writeXattrs(b *strings.Builder, p string, xs map[string]string) {
	names := make([]string, 0, len(xs))
	for k := range xs {
		names = append(names, k)
	}
	sort.Strings(names)
	b.WriteString("# file: " + quotePath(p) + "\n")
	for _, k := range names {
		b.WriteString(quotePath(k) + "=0s" + base64.StdEncoding.EncodeToString([]byte(xs[k])) + "\n")
	}
	b.WriteString("\n")
}

// quotePath escapes every byte but a few safe ones as \ooo, which attr's
// unquote() turns back.
func quotePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/._-+@,:", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "\\%03o", c)
	}
	return b.String()
}
