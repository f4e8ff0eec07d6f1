package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzApply feeds untrusted tar bytes through the flattening and the host
// writes: whatever the entry names, link targets and types, nothing may be
// written outside the staging directory, and the tree's count must match
// what lands on disk. The committed corpus (testdata/fuzz/FuzzApply) holds
// layers with climbing names, symlink loops, absolute and climbing link
// targets, hard links through symlinks and whiteouts; go test replays it.
func FuzzApply(f *testing.F) {
	f.Add(seedTar(f, [][3]string{{"5", "up", "../../../.."}, {"0", "up/x", "escaped?"}}))
	f.Add(seedTar(f, [][3]string{{"2", "a", "b"}, {"2", "b", "a"}, {"0", "a/x", ""}}))
	f.Add(seedTar(f, [][3]string{{"5", "d", ""}, {"0", "d/f", "x"}, {"0", "d/.wh..wh..opq", ""}, {"1", "h", "d/f"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		work := filepath.Join(d, "work")
		blobs := filepath.Join(work, "blobs")
		if err := os.MkdirAll(blobs, 0o755); err != nil {
			t.Fatal(err)
		}
		tr := NewTree(blobs, Limits{Entries: 10000, Bytes: 1 << 20})
		if err := tr.Apply(context.Background(), bytes.NewReader(data)); err != nil {
			return // rejecting a layer is fine; writing outside is not
		}
		s, err := tr.materialise(work)
		if err == nil && s.files > tr.count {
			t.Fatalf("%d inodes written for %d names", s.files, tr.count)
		}
		entries, _ := os.ReadDir(d)
		if len(entries) != 1 || entries[0].Name() != "work" {
			t.Fatalf("something was written beside the staging dir: %v", entries)
		}
		top, _ := os.ReadDir(work)
		for _, e := range top {
			if !map[string]bool{"blobs": true, "root": true, "fakeroot.state": true, "xattrs": true}[e.Name()] {
				t.Fatalf("unexpected %s in the staging dir", e.Name())
			}
		}
	})
}

// seedTar writes entries given as {typeflag, name, linkname-or-data}.
func seedTar(tb testing.TB, es [][3]string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Typeflag: e[0][0], Name: e[1], Mode: 0o755}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e[2]))
		} else {
			h.Linkname = e[2]
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(e[2]))
		}
	}
	_ = tw.Close()
	return b.Bytes()
}

func TestApplyErrors(t *testing.T) {
	for name, es := range map[string][][3]string{
		"through a symlink loop": {{"2", "a", "b"}, {"2", "b", "a"}, {"0", "a/x", ""}},
		"hard link to nothing":   {{"1", "h", "missing"}},
		"hard link to a dir":     {{"5", "d", ""}, {"1", "h", "d"}},
		"parent is a file":       {{"0", "f", "x"}, {"0", "f/g", "y"}},
		"empty whiteout":         {{"0", "d/.wh.", ""}},
		"empty symlink":          {{"2", "s", ""}},
		"root as a file":         {{"0", ".", "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			tr := NewTree(t.TempDir(), Limits{})
			if err := tr.Apply(context.Background(), bytes.NewReader(seedTar(t, es))); err == nil {
				t.Fatal("applied without an error")
			} else if strings.Contains(name, "loop") && !strings.Contains(err.Error(), "too many levels") {
				t.Errorf("error %q does not name the loop", err)
			}
		})
	}
}

func TestApplyLimits(t *testing.T) {
	tr := NewTree(t.TempDir(), Limits{Entries: 3, Bytes: 4})
	err := tr.Apply(context.Background(), bytes.NewReader(seedTar(t, [][3]string{{"0", "f", "12345"}})))
	if err == nil || !strings.Contains(err.Error(), "more than 4 bytes") {
		t.Errorf("byte cap: %v", err)
	}
	tr = NewTree(t.TempDir(), Limits{Entries: 3, Bytes: 1 << 20})
	err = tr.Apply(context.Background(), bytes.NewReader(seedTar(t, [][3]string{{"0", "a/b/c/d", "x"}})))
	if err == nil || !strings.Contains(err.Error(), "more than 3 files") {
		t.Errorf("entry cap: %v", err)
	}
}
