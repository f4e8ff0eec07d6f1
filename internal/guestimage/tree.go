package guestimage

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/cavaliergopher/cpio"
)

// Tree is the content of one initramfs archive, collected in memory (file contents stay on disk
// until written) and written in sorted order with fixed timestamps, so equal trees give equal bytes.
//
// Names are slash-separated and relative to the guest's root; a leading "/" is accepted. Parent
// directories that were not added explicitly are created root-owned with mode 0755. Adding a path
// twice is an error, reported by WriteTo together with every other problem.
type Tree struct {
	entries map[string]treeEntry
	errs    []error
}

type treeEntry struct {
	mode     cpio.FileMode // type and permission bits
	uid, gid int
	data     []byte // regular file contents, when src is empty
	src      string // regular file contents come from this host file
	target   string // symlink target
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{entries: map[string]treeEntry{}} }

// Dir adds a directory.
func (t *Tree) Dir(name string, perm fs.FileMode, uid, gid int) {
	t.add(name, treeEntry{mode: cpio.TypeDir | modeBits(perm), uid: uid, gid: gid})
}

// File adds a root-owned regular file with the given contents.
func (t *Tree) File(name string, perm fs.FileMode, data []byte) {
	t.add(name, treeEntry{mode: cpio.TypeReg | modeBits(perm), data: data})
}

// CopyFile adds a root-owned regular file whose contents are read from the host file src at write time.
func (t *Tree) CopyFile(name string, perm fs.FileMode, src string) {
	t.add(name, treeEntry{mode: cpio.TypeReg | modeBits(perm), src: src})
}

// Symlink adds a symbolic link to target.
func (t *Tree) Symlink(name, target string) {
	t.add(name, treeEntry{mode: cpio.TypeSymlink | 0o777, target: target})
}

// Has reports whether name was added.
func (t *Tree) Has(name string) bool {
	_, ok := t.entries[strings.TrimPrefix(path.Clean("/"+name), "/")]
	return ok
}

// modeBits keeps permission, setuid, setgid and sticky bits, translated from Go's FileMode layout.
func modeBits(m fs.FileMode) cpio.FileMode {
	b := cpio.FileMode(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= cpio.ModeSetuid
	}
	if m&fs.ModeSetgid != 0 {
		b |= cpio.ModeSetgid
	}
	if m&fs.ModeSticky != 0 {
		b |= cpio.ModeSticky
	}
	return b
}

func (t *Tree) add(name string, e treeEntry) {
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "" || !fs.ValidPath(clean) {
		t.errs = append(t.errs, fmt.Errorf("initramfs path %q is not valid", name))
		return
	}
	if _, dup := t.entries[clean]; dup {
		t.errs = append(t.errs, fmt.Errorf("initramfs path /%s added twice", clean))
		return
	}
	t.entries[clean] = e
}

// WriteTo writes the tree as one gzip'd newc cpio archive. cavaliergopher/cpio writes newc with no
// dependencies; its writer leaves symlink targets to the caller (written as the entry's data) and
// cannot write device numbers, which the guest does not need: the kernel's built-in initramfs already
// has /dev/console and the guest init mounts devtmpfs.
func (t *Tree) WriteTo(ctx context.Context, w io.Writer) error {
	if len(t.errs) > 0 {
		return errors.Join(t.errs...)
	}
	all := t.withParents()
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names) // a parent sorts before its children, so directories exist before their files

	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	cw := cpio.NewWriter(gz)
	epoch := time.Unix(0, 0) // fixed mtime keeps the archive reproducible
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeEntry(cw, n, all[n], epoch); err != nil {
			return fmt.Errorf("writing /%s: %w", n, err)
		}
	}
	if err := cw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// withParents returns the entries plus a 0755 root-owned directory for every missing parent.
func (t *Tree) withParents() map[string]treeEntry {
	all := make(map[string]treeEntry, len(t.entries))
	for n, e := range t.entries {
		all[n] = e
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			if _, ok := t.entries[d]; !ok {
				all[d] = treeEntry{mode: cpio.TypeDir | 0o755}
			}
		}
	}
	return all
}

func writeEntry(cw *cpio.Writer, name string, e treeEntry, mtime time.Time) error {
	h := &cpio.Header{Name: name, Mode: e.mode, Uid: e.uid, Guid: e.gid, ModTime: mtime, Links: 1}
	switch e.mode &^ cpio.ModePerm &^ (cpio.ModeSetuid | cpio.ModeSetgid | cpio.ModeSticky) {
	case cpio.TypeDir:
		h.Links = 2
		return cw.WriteHeader(h)
	case cpio.TypeSymlink:
		h.Size = int64(len(e.target))
		if err := cw.WriteHeader(h); err != nil {
			return err
		}
		_, err := io.WriteString(cw, e.target)
		return err
	}
	if e.src == "" {
		h.Size = int64(len(e.data))
		if err := cw.WriteHeader(h); err != nil {
			return err
		}
		_, err := cw.Write(e.data)
		return err
	}
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	h.Size = fi.Size()
	if err := cw.WriteHeader(h); err != nil {
		return err
	}
	n, err := io.Copy(cw, f)
	if err == nil && n != h.Size {
		err = fmt.Errorf("%s changed size while being copied", e.src)
	}
	return err
}
