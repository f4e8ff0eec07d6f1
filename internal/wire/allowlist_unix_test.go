//go:build unix

package wire

import (
	"io/fs"
	"syscall"
	"testing"
)

// fakeInfo is a file with a chosen owner and mode.
type fakeInfo struct {
	fs.FileInfo
	mode     fs.FileMode
	uid, gid uint32
}

func (f fakeInfo) Mode() fs.FileMode { return f.mode }
func (f fakeInfo) Sys() any          { return &syscall.Stat_t{Uid: f.uid, Gid: f.gid} }

func TestRootOnly(t *testing.T) {
	for _, c := range []struct {
		mode     fs.FileMode
		uid, gid uint32
		ok       bool
	}{
		{0o755, 0, 0, true}, {0o775, 0, 0, true}, {0o4755, 0, 0, true}, {0o2755, 0, 50, true}, {fs.ModeDir | 0o755, 0, 0, true},
		{0o755, 1000, 0, false}, {0o757, 0, 0, false}, {0o775, 0, 1000, false}, {0o775, 0, 50, false},
		{fs.ModeDir | fs.ModeSticky | 0o777, 0, 0, false}, {0o555, 1000, 1000, false},
	} {
		err := checkRootOnly("/x", fakeInfo{mode: c.mode, uid: c.uid, gid: c.gid})
		if (err == nil) != c.ok {
			t.Errorf("mode %v uid %d gid %d: %v, want ok=%v", c.mode, c.uid, c.gid, err, c.ok)
		}
	}
	// The host's own /usr/bin is root's (so every case above that passes
	// is reachable), and a temp dir is not (under a world-writable /tmp).
	if err := rootOnly("/usr/bin"); err != nil {
		t.Errorf("/usr/bin: %v", err)
	}
	if err := rootOnly(t.TempDir()); err == nil {
		t.Error("a temp dir passed")
	}
}
