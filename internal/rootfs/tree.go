package rootfs

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Kind is a file type in the tree.
type Kind uint8

// The kinds a layer may hold. Sockets cannot be stored in tar.
const (
	KindDir Kind = iota + 1
	KindFile
	KindSymlink
	KindChar
	KindBlock
	KindFIFO
)

func (k Kind) String() string {
	switch k {
	case KindDir:
		return "dir"
	case KindFile:
		return "file"
	case KindSymlink:
		return "symlink"
	case KindChar:
		return "char"
	case KindBlock:
		return "block"
	case KindFIFO:
		return "fifo"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// maxSymlinkHops is Linux's MAXSYMLINKS: resolving a parent through more
// links than this is a loop.
const maxSymlinkHops = 40

// errLoop is returned when a parent path goes through a symlink loop.
var errLoop = errors.New("too many levels of symbolic links")

// inode is one file's metadata and content; hard-linked names share one.
type inode struct {
	kind         Kind
	perm         uint32 // permission bits with setuid (04000), setgid (02000) and sticky (01000)
	uid, gid     int
	size         int64
	blob         string // regular files: the staging file holding the contents
	target       string // symlinks: the link text, as stored
	major, minor uint32 // device nodes
	mtime        time.Time
	xattrs       map[string]string
}

// node is one name in the tree.
type node struct {
	name   string
	parent *node
	kids   map[string]*node // directories only
	ino    *inode
	layer  int // index of the layer that last wrote this name; whiteouts only hide lower layers
}

func newDir(name string, parent *node, layer int) *node {
	return &node{name: name, parent: parent, kids: map[string]*node{}, layer: layer,
		ino: &inode{kind: KindDir, perm: 0o755}}
}

// splitClean turns a tar entry name into path elements below the root. The
// name is cleaned as if rooted ("/../x" is "/x"), so no name can climb out.
func splitClean(name string) []string {
	p := path.Clean("/" + name)
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// resolveDir returns the directory that elems name, following symlinks in
// the tree (scoped to the root, as the kernel would inside a chroot) and
// creating missing directories for layer. Nothing on the host is read.
func (t *Tree) resolveDir(elems []string, layer int) (*node, error) {
	hops := 0
	return t.walk(t.root, elems, layer, &hops)
}

func (t *Tree) walk(dir *node, elems []string, layer int, hops *int) (*node, error) {
	cur := dir
	for i, e := range elems {
		switch e {
		case "", ".":
			continue
		case "..":
			if cur.parent != nil {
				cur = cur.parent
			}
			continue
		}
		kid, ok := cur.kids[e]
		if !ok {
			kid = newDir(e, cur, layer)
			cur.kids[e] = kid
			t.count++
		}
		switch kid.ino.kind {
		case KindDir:
			cur = kid
		case KindSymlink:
			*hops++
			if *hops > maxSymlinkHops {
				return nil, fmt.Errorf("%s: %w", strings.Join(elems[:i+1], "/"), errLoop)
			}
			start := cur
			if strings.HasPrefix(kid.ino.target, "/") {
				start = t.root
			}
			next, err := t.walk(start, strings.Split(kid.ino.target, "/"), layer, hops)
			if err != nil {
				return nil, err
			}
			cur = next
		default:
			return nil, fmt.Errorf("%s: not a directory (a %s)", strings.Join(elems[:i+1], "/"), kid.ino.kind)
		}
	}
	return cur, nil
}

// lookup finds the node elems names without following a symlink in the
// last element; nil if there is none.
func (t *Tree) lookup(elems []string) (*node, error) {
	if len(elems) == 0 {
		return t.root, nil
	}
	hops := 0
	dir, err := t.walkExisting(t.root, elems[:len(elems)-1], &hops)
	if err != nil || dir == nil {
		return nil, err
	}
	return dir.kids[elems[len(elems)-1]], nil
}

// walkExisting is walk without creating anything: nil when a directory is missing.
func (t *Tree) walkExisting(dir *node, elems []string, hops *int) (*node, error) {
	cur := dir
	for i, e := range elems {
		switch e {
		case "", ".":
			continue
		case "..":
			if cur.parent != nil {
				cur = cur.parent
			}
			continue
		}
		kid, ok := cur.kids[e]
		if !ok {
			return nil, nil
		}
		switch kid.ino.kind {
		case KindDir:
			cur = kid
		case KindSymlink:
			*hops++
			if *hops > maxSymlinkHops {
				return nil, fmt.Errorf("%s: %w", strings.Join(elems[:i+1], "/"), errLoop)
			}
			start := cur
			if strings.HasPrefix(kid.ino.target, "/") {
				start = t.root
			}
			next, err := t.walkExisting(start, strings.Split(kid.ino.target, "/"), hops)
			if err != nil || next == nil {
				return nil, err
			}
			cur = next
		default:
			return nil, nil
		}
	}
	return cur, nil
}

// remove drops n and everything below it from the tree.
func (t *Tree) remove(n *node) {
	if n.parent == nil {
		return // the root stays
	}
	delete(n.parent.kids, n.name)
	t.count -= n.size()
}

// size counts n and its descendants.
func (n *node) size() int {
	c := 1
	for _, k := range n.kids {
		c += k.size()
	}
	return c
}

// Path is n's path from the root, "/" for the root.
func (n *node) path() string {
	if n.parent == nil {
		return "/"
	}
	var parts []string
	for c := n; c.parent != nil; c = c.parent {
		parts = append(parts, c.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/")
}

// sortedKids returns a directory's children by name, so output is stable.
func (n *node) sortedKids() []*node {
	kids := make([]*node, 0, len(n.kids))
	for _, k := range n.kids {
		kids = append(kids, k)
	}
	sort.Slice(kids, func(i, j int) bool { return kids[i].name < kids[j].name })
	return kids
}
