package guestimage

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
)

// cpioEntry is one archive member as read back with cavaliergopher/cpio's reader.
type cpioEntry struct {
	mode     cpio.FileMode
	uid, gid int
	data     string
	link     string
	mtime    int64
}

// readCpioGz reads every gzip member of an initramfs (the kernel accepts several concatenated) and
// returns the entry names in archive order plus the entries by name; a later archive's entry
// replaces an earlier one, as when the kernel unpacks them.
func readCpioGz(t *testing.T, b []byte) ([]string, map[string]cpioEntry) {
	t.Helper()
	var order []string
	entries := map[string]cpioEntry{}
	// bytes.Reader is an io.ByteReader, so gzip stops exactly at the end of each member.
	br := bytes.NewReader(b)
	for br.Len() > 0 {
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		cr := cpio.NewReader(bytes.NewReader(raw))
		for {
			h, err := cr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(cr)
			if err != nil {
				t.Fatal(err)
			}
			order = append(order, h.Name)
			entries[h.Name] = cpioEntry{mode: h.Mode, uid: h.Uid, gid: h.Guid, data: string(data), link: h.Linkname, mtime: h.ModTime.Unix()}
		}
	}
	return order, entries
}

func TestTreeRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "agent")
	if err := os.WriteFile(src, []byte("agent bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := NewTree()
	tr.CopyFile("/init", 0o755, src)
	tr.File("etc/passwd", 0o644, []byte("root:x:0:0::/root:/bin/sh\n"))
	tr.Symlink("bin/sh", "/bin/busybox")
	tr.Dir("tmp", 0o777|fs.ModeSticky, 0, 0)
	tr.Dir("home/sandbox", 0o750, 1000, 1000)
	tr.File("usr/lib/deep/file", 0o600, nil)

	var buf bytes.Buffer
	if err := tr.WriteTo(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	order, got := readCpioGz(t, buf.Bytes())
	if !sort.StringsAreSorted(order) {
		t.Errorf("entries not sorted: %v", order)
	}
	want := map[string]cpioEntry{
		"init":              {mode: cpio.TypeReg | 0o755, data: "agent bytes"},
		"etc":               {mode: cpio.TypeDir | 0o755},
		"etc/passwd":        {mode: cpio.TypeReg | 0o644, data: "root:x:0:0::/root:/bin/sh\n"},
		"bin":               {mode: cpio.TypeDir | 0o755},
		"bin/sh":            {mode: cpio.TypeSymlink | 0o777, link: "/bin/busybox"},
		"tmp":               {mode: cpio.TypeDir | cpio.ModeSticky | 0o777},
		"home":              {mode: cpio.TypeDir | 0o755},
		"home/sandbox":      {mode: cpio.TypeDir | 0o750, uid: 1000, gid: 1000},
		"usr":               {mode: cpio.TypeDir | 0o755},
		"usr/lib":           {mode: cpio.TypeDir | 0o755},
		"usr/lib/deep":      {mode: cpio.TypeDir | 0o755},
		"usr/lib/deep/file": {mode: cpio.TypeReg | 0o600},
	}
	if len(got) != len(want) {
		t.Errorf("archive has %d entries %v, want %d", len(got), order, len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if g != w {
			t.Errorf("%s: got %+v, want %+v", name, g, w)
		}
	}

	// Same tree, same bytes: the digest of an image depends only on its inputs.
	var again bytes.Buffer
	if err := tr.WriteTo(context.Background(), &again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("writing the same tree twice gave different bytes")
	}
}

func TestTreeRejectsBadPaths(t *testing.T) {
	tr := NewTree()
	tr.File("etc/passwd", 0o644, nil)
	tr.File("/etc/passwd", 0o644, nil)
	tr.Symlink("../escape", "/x")
	tr.Dir("/", 0o755, 0, 0)
	err := tr.WriteTo(context.Background(), io.Discard)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"/etc/passwd added twice", `"/" is not valid`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// path.Clean("/../escape") is "/escape": a name cannot climb out of the root, so it is kept.
	if !tr.Has("escape") {
		t.Error(`"../escape" was not confined to /escape`)
	}
}

func TestTreeMissingSourceFile(t *testing.T) {
	tr := NewTree()
	tr.CopyFile("init", 0o755, filepath.Join(t.TempDir(), "absent"))
	err := tr.WriteTo(context.Background(), io.Discard)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/init") {
		t.Errorf("err = %v, want not-exist naming /init", err)
	}
}
