package rootfs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OCI image-spec layer.md: a whiteout hides NAME of lower layers; the
// opaque marker hides every lower-layer entry of its directory.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	xattrPrefix    = "SCHILY.xattr."
)

// Limits bound what untrusted layers can make the host hold.
type Limits struct {
	// Entries caps the names in the tree (memory). Zero means 4,000,000.
	Entries int
	// Bytes caps the regular-file bytes staged on disk. Zero means 64 GiB.
	Bytes int64
}

func (l Limits) orDefault() Limits {
	if l.Entries == 0 {
		l.Entries = 4_000_000
	}
	if l.Bytes == 0 {
		l.Bytes = 64 << 30
	}
	return l
}

// Tree is a file tree built by applying layers. Regular files' contents live
// as blobs in a staging directory; everything else is in memory.
type Tree struct {
	root    *node
	blobs   string // staging directory for contents
	nblobs  int
	count   int   // names in the tree
	bytes   int64 // bytes staged
	limits  Limits
	nlayers int
}

// NewTree returns an empty tree (a root directory, mode 0755, root-owned)
// whose file contents go to blobDir, which must exist and be empty.
func NewTree(blobDir string, lim Limits) *Tree {
	return &Tree{root: newDir("", nil, -1), blobs: blobDir, limits: lim.orDefault(), count: 1}
}

// Apply reads one uncompressed layer tar and applies it on top of the
// layers applied before.
func (t *Tree) Apply(ctx context.Context, r io.Reader) error {
	layer := t.nlayers
	t.nlayers++
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading layer %d: %w", layer, err)
		}
		if err := t.entry(h, tr, layer); err != nil {
			return fmt.Errorf("layer %d: %q: %w", layer, h.Name, err)
		}
		if t.count > t.limits.Entries {
			return fmt.Errorf("layer %d: more than %d files", layer, t.limits.Entries)
		}
	}
}

func (t *Tree) entry(h *tar.Header, r io.Reader, layer int) error {
	elems := splitClean(h.Name)
	if len(elems) == 0 { // the root itself: only its metadata can change
		if h.Typeflag != tar.TypeDir {
			return errors.New("the root must be a directory")
		}
		t.root.ino = t.meta(h, KindDir)
		return nil
	}
	base := elems[len(elems)-1]
	dir, err := t.resolveDir(elems[:len(elems)-1], layer)
	if err != nil {
		return err
	}
	switch {
	case base == opaqueMarker:
		for name, kid := range dir.kids {
			if kid.layer < layer {
				t.remove(dir.kids[name])
			}
		}
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		hidden := base[len(whiteoutPrefix):]
		if hidden == "" || hidden == "." || hidden == ".." {
			return errors.New("whiteout names nothing")
		}
		if kid, ok := dir.kids[hidden]; ok && kid.layer < layer {
			t.remove(kid)
		}
		return nil
	}

	var ino *inode
	switch h.Typeflag {
	case tar.TypeDir:
		if old, ok := dir.kids[base]; ok && old.ino.kind == KindDir {
			old.ino = t.meta(h, KindDir) // a directory listed again keeps its children
			old.layer = layer
			return nil
		}
		ino = t.meta(h, KindDir)
	case tar.TypeReg, tar.TypeRegA:
		ino = t.meta(h, KindFile)
		if err := t.stage(ino, h, r); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if h.Linkname == "" {
			return errors.New("symlink with an empty target")
		}
		ino = t.meta(h, KindSymlink)
		ino.target = h.Linkname
		ino.perm = 0o777
	case tar.TypeLink:
		target, err := t.lookup(splitClean(h.Linkname))
		if err != nil {
			return fmt.Errorf("hard link target %q: %w", h.Linkname, err)
		}
		if target == nil {
			return fmt.Errorf("hard link target %q does not exist", h.Linkname)
		}
		if target.ino.kind == KindDir {
			return fmt.Errorf("hard link target %q is a directory", h.Linkname)
		}
		ino = target.ino
	case tar.TypeChar, tar.TypeBlock:
		kind := KindChar
		if h.Typeflag == tar.TypeBlock {
			kind = KindBlock
		}
		ino = t.meta(h, kind)
		if h.Devmajor < 0 || h.Devminor < 0 || h.Devmajor > 0xfff || h.Devminor > 0xfffff {
			return fmt.Errorf("device number %d:%d out of range", h.Devmajor, h.Devminor)
		}
		ino.major, ino.minor = uint32(h.Devmajor), uint32(h.Devminor)
	case tar.TypeFifo:
		ino = t.meta(h, KindFIFO)
	default:
		return fmt.Errorf("unsupported tar entry type %q", string(h.Typeflag))
	}
	if old, ok := dir.kids[base]; ok {
		t.remove(old)
	}
	n := &node{name: base, parent: dir, ino: ino, layer: layer}
	if ino.kind == KindDir {
		n.kids = map[string]*node{}
	}
	dir.kids[base] = n
	t.count++
	return nil
}

// meta takes the header's metadata.
func (t *Tree) meta(h *tar.Header, kind Kind) *inode {
	ino := &inode{kind: kind, perm: uint32(h.Mode) & 0o7777, uid: h.Uid, gid: h.Gid, mtime: h.ModTime}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, xattrPrefix); ok && name != "" {
			if ino.xattrs == nil {
				ino.xattrs = map[string]string{}
			}
			ino.xattrs[name] = v
		}
	}
	return ino
}

// stage writes a regular file's contents to a new blob.
func (t *Tree) stage(ino *inode, h *tar.Header, r io.Reader) error {
	if h.Size < 0 {
		return errors.New("negative size")
	}
	if t.bytes+h.Size > t.limits.Bytes {
		return fmt.Errorf("layers hold more than %d bytes of files", t.limits.Bytes)
	}
	t.nblobs++
	p := filepath.Join(t.blobs, strconv.Itoa(t.nblobs))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("staging contents: %w", err)
	}
	t.bytes += n
	ino.blob, ino.size = p, n
	return nil
}
