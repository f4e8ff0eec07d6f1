package guestimage

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobodyEnv marks the copy of the test binary runAsNobody starts.
const nobodyEnv = "VOIDBOX_TEST_AS_NOBODY"

// TestReadOnlyCacheDir: a cache directory the user may not write to is
// reported before any download. Permission bits stop everyone but root, and
// CI runs as root, so there the test runs itself again as nobody.
func TestReadOnlyCacheDir(t *testing.T) {
	if os.Geteuid() == 0 {
		if os.Getenv(nobodyEnv) != "" {
			t.Fatal("still root in the copy that was to run as nobody")
		}
		runAsNobody(t, "TestReadOnlyCacheDir")
		return
	}
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	assertCacheUnusable(t, newTestArchive(t), ro)
}

// runAsNobody runs test (a test of this package) in a copy of the test
// binary as uid/gid 65534 with no supplementary groups, and fails unless it
// ran and passed. The copy and the child's TMPDIR and HOME live in a
// directory nobody owns: go test's own build directory is root's, mode 0700.
func runAsNobody(t *testing.T, test string) {
	t.Helper()
	const nobody = 65534
	dir, err := os.MkdirTemp("", "voidbox-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(self))
	if err := copyExecutable(self, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), nobodyEnv+"=1", "TMPDIR="+dir, "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s as uid %d: %v\n%s", test, nobody, err, out)
	}
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
