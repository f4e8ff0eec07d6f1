package rootfs_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/rootfs"
	"github.com/voidbox/voidbox/internal/rootfs/rootfstest"
)

// entry is a tar entry for a test layer.
type entry struct {
	name, link string
	typ        byte
	mode       int64
	uid, gid   int
	data       string
	major      int64
	minor      int64
	xattrs     map[string]string
}

func layerTar(t testing.TB, es ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: time.Unix(1700000000, 0), Devmajor: e.major, Devminor: e.minor, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func dir(name string, mode int64) entry { return entry{name: name, typ: tar.TypeDir, mode: mode} }
func file(name string, mode int64, data string) entry {
	return entry{name: name, typ: tar.TypeReg, mode: mode, data: data}
}
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}

// testLayers are the layers every format test builds: each case the OCI
// layer rules name, and some that would hurt the host if followed there.
func testLayers(t testing.TB) [][]byte {
	caps := string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	base := layerTar(t,
		dir("./", 0o755),
		dir("etc/", 0o755), file("etc/os-release", 0o644, "ID=base\n"),
		dir("bin/", 0o755), file("bin/su", 0o4755, "su binary"),
		entry{name: "bin/sg", typ: tar.TypeReg, mode: 0o2755, gid: 42, data: "sg"},
		dir("tmp/", 0o1777),
		entry{name: "home/user/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1000},
		entry{name: "home/user/.profile", typ: tar.TypeReg, mode: 0o600, uid: 1000, gid: 1000, data: "PS1=x\n"},
		file("usr/lib/big", 0o644, strings.Repeat("big", 5000)),
		entry{name: "usr/lib/hard", typ: tar.TypeLink, link: "usr/lib/big"},
		symlink("loop1", "loop2"), symlink("loop2", "loop1"),
		symlink("abs", "/etc/os-release"),
		symlink("up", "../../../../etc"),
		entry{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		entry{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660, gid: 6, major: 8, minor: 0},
		entry{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
		dir("opq/", 0o755), file("opq/old1", 0o644, "old"), file("opq/sub/old2", 0o644, "old"),
		file("gone", 0o644, "bye"),
		file("var/cache/x/y", 0o644, "cached"),
		entry{name: "bin/ping", typ: tar.TypeReg, mode: 0o755, data: "ping",
			xattrs: map[string]string{"security.capability": caps, "user.note": "hello"}},
	)
	top := layerTar(t,
		file(".wh.gone", 0o644, ""),
		dir("opq/", 0o750), file("opq/.wh..wh..opq", 0o644, ""), file("opq/new", 0o644, "new"),
		file("etc/os-release", 0o644, "ID=top\n"),
		file("var/.wh.cache", 0o644, ""),
		file("up/escape", 0o600, "through a climbing symlink"), // resolves to /etc/escape in the image
		file("/../../abs-climb", 0o644, "cleaned as rooted"),
	)
	empty := layerTar(t)
	links := layerTar(t, entry{name: "bin/su2", typ: tar.TypeLink, link: "/bin/su"})
	return [][]byte{base, top, empty, links}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// wantTree is what testLayers must give, written out by hand.
func wantTree() map[string]rootfstest.File {
	d := func(mode uint32, uid, gid int) rootfstest.File {
		return rootfstest.File{Kind: "dir", Mode: mode, UID: uid, GID: gid}
	}
	f := func(mode uint32, uid, gid int, data string, links int) rootfstest.File {
		return rootfstest.File{Kind: "file", Mode: mode, UID: uid, GID: gid, Size: int64(len(data)), SHA256: sum(data), Links: links}
	}
	l := func(target string) rootfstest.File {
		return rootfstest.File{Kind: "symlink", Mode: 0o777, Target: target, Links: 1}
	}
	big := strings.Repeat("big", 5000)
	return map[string]rootfstest.File{
		"/":                   d(0o755, 0, 0),
		"/etc":                d(0o755, 0, 0),
		"/etc/os-release":     f(0o644, 0, 0, "ID=top\n", 1),
		"/etc/escape":         f(0o600, 0, 0, "through a climbing symlink", 1),
		"/abs-climb":          f(0o644, 0, 0, "cleaned as rooted", 1),
		"/bin":                d(0o755, 0, 0),
		"/bin/su":             f(0o4755, 0, 0, "su binary", 2),
		"/bin/su2":            f(0o4755, 0, 0, "su binary", 2),
		"/bin/sg":             f(0o2755, 0, 42, "sg", 1),
		"/bin/ping":           f(0o755, 0, 0, "ping", 1),
		"/tmp":                d(0o1777, 0, 0),
		"/home":               d(0o755, 0, 0),
		"/home/user":          d(0o700, 1000, 1000),
		"/home/user/.profile": f(0o600, 1000, 1000, "PS1=x\n", 1),
		"/usr":                d(0o755, 0, 0),
		"/usr/lib":            d(0o755, 0, 0),
		"/usr/lib/big":        f(0o644, 0, 0, big, 2),
		"/usr/lib/hard":       f(0o644, 0, 0, big, 2),
		"/loop1":              l("loop2"),
		"/loop2":              l("loop1"),
		"/abs":                l("/etc/os-release"),
		"/up":                 l("../../../../etc"),
		"/dev":                d(0o755, 0, 0),
		"/dev/null":           {Kind: "char", Mode: 0o666, Rdev: "1:3", Links: 1},
		"/dev/sda":            {Kind: "block", Mode: 0o660, GID: 6, Rdev: "8:0", Links: 1},
		"/run":                d(0o755, 0, 0),
		"/run/fifo":           {Kind: "fifo", Mode: 0o600, Links: 1},
		"/opq":                d(0o750, 0, 0),
		"/opq/new":            f(0o644, 0, 0, "new", 1),
		"/var":                d(0o755, 0, 0),
	}
}

func opener(b []byte) rootfs.Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// CompareTree fails t for every difference between got and want; inode
// numbers are compared only as "these names share one".
func compareTree(t *testing.T, got, want map[string]rootfstest.File) {
	t.Helper()
	var names []string
	for p := range want {
		names = append(names, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("image has %s (%+v), the layers do not", p, got[p])
		}
	}
	sort.Strings(names)
	for _, p := range names {
		g, ok := got[p]
		if !ok {
			t.Errorf("image lacks %s", p)
			continue
		}
		w := want[p]
		g.Ino = 0
		if w.Kind == "dir" {
			g.Links = 0 // directory link counts are the file system's business
		}
		if g != w {
			t.Errorf("%s:\n got %+v\nwant %+v", p, g, w)
		}
	}
	if a, b := got["/usr/lib/big"], got["/usr/lib/hard"]; a.Ino == 0 || a.Ino != b.Ino {
		t.Errorf("hard link lost: big ino %d, hard ino %d", a.Ino, b.Ino)
	}
}

func TestBuildMatchesLayers(t *testing.T) {
	for _, format := range []rootfs.Format{rootfs.Erofs, rootfs.Ext4} {
		t.Run(string(format), func(t *testing.T) {
			var ls []rootfs.Opener
			for _, b := range testLayers(t) {
				ls = append(ls, opener(b))
			}
			dir := t.TempDir()
			out := filepath.Join(dir, "root."+string(format))
			res, err := rootfs.Build(context.Background(), out, ls, rootfs.Options{Format: format})
			if err != nil {
				t.Fatal(err)
			}
			if res.Size == 0 || res.Files != len(wantTree())-2 {
				t.Errorf("result %+v: want %d inodes", res, len(wantTree())-2)
			}
			compareTree(t, rootfstest.Read(t, string(format), out), wantTree())
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("staging left behind: %v", entries)
			}
			xa := rootfstest.Xattrs(t, string(format), out, "/bin/ping")
			if xa["user.note"] != "hello" || len(xa["security.capability"]) != 20 {
				t.Errorf("xattrs of /bin/ping = %q", xa)
			}
		})
	}
}
