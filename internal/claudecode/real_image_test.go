package claudecode

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/testgate"
)

// The real flavour is built once per test binary, from the npm registry
// and Debian's archive, into a fresh cache that TestMain removes. Tests
// that need it FAIL when it cannot be built; VOIDBOX_SKIP_NETWORK_TESTS=1
// opts out (loudly).
var real struct {
	once     sync.Once
	cacheDir string
	im       *Image
	progress bytes.Buffer
	took     time.Duration
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if real.cacheDir != "" {
		os.RemoveAll(real.cacheDir)
	}
	os.Exit(code)
}

func realImage(t *testing.T) *Image {
	t.Helper()
	testgate.Skip(t, testgate.SkipNetwork, "the npm registry and Debian's archive")
	real.once.Do(func() {
		dir, err := os.MkdirTemp("", "voidbox-claude-cache-")
		if err != nil {
			real.err = err
			return
		}
		real.cacheDir = dir
		// The sandbox user (uid 1000) of the run tests reads the flavour.
		if real.err = os.Chmod(dir, 0o755); real.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		real.im, real.err = BuildImage(ctx, Options{CacheDir: dir, Version: DefaultVersion, Progress: &real.progress})
		real.took = time.Since(start)
	})
	if real.err != nil {
		t.Fatalf("building the real claude-code flavour (set VOIDBOX_SKIP_NETWORK_TESTS=1 to opt out): %v\n%s", real.err, real.progress.String())
	}
	return real.im
}

func TestBuildImageReal(t *testing.T) {
	im := realImage(t)
	t.Logf("built in %s:\n%s%s", real.took.Round(time.Millisecond), real.progress.String(), im.Summary())
	if im.Version != DefaultVersion || !strings.HasPrefix(im.Integrity, "sha512-") {
		t.Errorf("image %+v", im)
	}
	fi, err := os.Stat(im.HostPath(im.Binary))
	if err != nil || fi.Size() < 100e6 || fi.Mode().Perm() != 0o755 {
		t.Fatalf("bin/claude: %v %v", fi, err)
	}
	// The closure of the real binaries is glibc's six plus bash's terminfo.
	want := map[string]bool{"lib/ld-linux-x86-64.so.2": true, "lib/libc.so.6": true, "lib/libm.so.6": true,
		"lib/libpthread.so.0": true, "lib/libdl.so.2": true, "lib/librt.so.1": true, "lib/libtinfo.so.6": true}
	for _, l := range im.Libs {
		if !want[l] {
			t.Errorf("unexpected library %s", l)
		}
		delete(want, l)
	}
	if len(want) != 0 {
		t.Errorf("missing libraries %v (have %v)", want, im.Libs)
	}
	f, err := elf.Open(im.HostPath("lib/libc.so.6"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, p := range im.Debian {
		if p.Version == "" {
			t.Errorf("package %s without version", p.Name)
		}
	}
	if im.Interp != "/lib64/ld-linux-x86-64.so.2" {
		t.Errorf("Interp = %s", im.Interp)
	}
	// The binary runs on the flavour's own glibc, none of the host's.
	out, err := exec.Command(im.HostPath(im.Libs[0]), "--library-path", im.HostPath("lib"), "--inhibit-cache",
		im.HostPath(im.Binary), "--version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != DefaultVersion+" (Claude Code)" {
		t.Errorf("claude --version on the flavour's glibc: %v: %s", err, out)
	}
	found, err := FindImage(real.cacheDir, "")
	if err != nil || found.Dir != im.Dir {
		t.Errorf("FindImage after the build: %v, %v", found, err)
	}
	// Building again finds it without touching the network.
	var prog bytes.Buffer
	again, err := BuildImage(context.Background(), Options{CacheDir: real.cacheDir, Progress: &prog, Registry: "http://127.0.0.1:9"})
	if err != nil || again.Dir != im.Dir || prog.Len() != 0 {
		t.Errorf("second build: %v, %v, progress %q", again, err, prog.String())
	}
	if names, _ := filepath.Glob(filepath.Join(real.cacheDir, "tmp", "*")); len(names) != 0 {
		t.Errorf("staging left behind: %v", names)
	}
}
