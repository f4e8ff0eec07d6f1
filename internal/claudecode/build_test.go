package claudecode

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeOptions builds against the fake registry and Debian in a fresh cache.
func fakeOptions(t *testing.T, reg *fakeRegistry, deb *fakeDebian) Options {
	return Options{CacheDir: t.TempDir(), Version: reg.version, Registry: reg.URL, Debian: deb}
}

func TestBuildImageAssemblesFlavour(t *testing.T) {
	t.Parallel()
	reg := newFakeRegistry(t, DefaultVersion)
	deb := newFakeDebian(t)
	o := fakeOptions(t, reg, deb)
	var prog bytes.Buffer
	o.Progress = &prog
	im, err := BuildImage(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	wantDir := filepath.Join(o.CacheDir, "flavours", "claude-code-"+DefaultVersion+"-2.36-9_deb12u99")
	if im.Dir != wantDir {
		t.Errorf("Dir = %s, want %s", im.Dir, wantDir)
	}
	got, _ := os.ReadFile(im.HostPath(im.Binary))
	want, _ := os.ReadFile("/bin/true")
	if !bytes.Equal(got, want) {
		t.Errorf("bin/claude is not the package's binary")
	}
	// /bin/true needs libc only and bash libtinfo and libc: the closure
	// takes exactly those and the loader, and leaves libm & co. out.
	wantLibs := []string{"lib/ld-linux-x86-64.so.2", "lib/libc.so.6", "lib/libtinfo.so.6"}
	libs := slices.Clone(im.Libs)
	slices.Sort(libs)
	if !slices.Equal(libs, wantLibs) || im.Libs[0] != "lib/ld-linux-x86-64.so.2" {
		t.Errorf("Libs = %v, want %v with the loader first", im.Libs, wantLibs)
	}
	if im.Loader != "/opt/voidbox/claude-code/lib/ld-linux-x86-64.so.2" || im.Interp != "/lib64/ld-linux-x86-64.so.2" {
		t.Errorf("Loader %s Interp %s", im.Loader, im.Interp)
	}
	wantLinks := []Symlink{
		{"/lib64/ld-linux-x86-64.so.2", "/opt/voidbox/claude-code/lib/ld-linux-x86-64.so.2"},
		{"/lib/x86_64-linux-gnu/libc.so.6", "/opt/voidbox/claude-code/lib/libc.so.6"},
		{"/lib/x86_64-linux-gnu/libtinfo.so.6", "/opt/voidbox/claude-code/lib/libtinfo.so.6"},
	}
	links := im.GuestSymlinks()
	slices.SortFunc(links[1:], func(a, b Symlink) int { return strings.Compare(a.Link, b.Link) })
	if !slices.Equal(links, wantLinks) {
		t.Errorf("GuestSymlinks = %v, want %v", links, wantLinks)
	}
	if fi, err := os.Stat(im.Dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("flavour dir mode: %v %v (the guest reads it as uid 1000)", fi.Mode(), err)
	}
	for _, line := range []string{"fetching Debian package libc6=2.36-9+deb12u99", "downloading " + NPMPackage, "downloaded", "built claude-code"} {
		if !strings.Contains(prog.String(), line) {
			t.Errorf("progress lacks %q:\n%s", line, prog.String())
		}
	}
	if !strings.Contains(im.Summary(), "claude-code "+DefaultVersion+", glibc 2.36-9+deb12u99") {
		t.Errorf("Summary = %q", im.Summary())
	}
	// The libraries form a working set: the flavour's loader runs its bash
	// with nothing but lib/ on the search path.
	out, err := exec.Command(im.HostPath(im.Libs[0]), "--library-path", im.HostPath("lib"), "--inhibit-cache",
		im.HostPath(im.Shell), "-c", "echo flavour-bash-ok").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "flavour-bash-ok" {
		t.Errorf("running the flavour's bash with its own libraries: %v: %s", err, out)
	}
	if leftovers, _ := os.ReadDir(filepath.Join(o.CacheDir, "tmp")); len(leftovers) != 0 {
		t.Errorf("staging left behind: %v", leftovers)
	}
}

func TestBuildImageTwiceBuildsOnce(t *testing.T) {
	t.Parallel()
	reg := newFakeRegistry(t, DefaultVersion)
	deb := newFakeDebian(t)
	o := fakeOptions(t, reg, deb)
	first, err := BuildImage(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var prog bytes.Buffer
	o.Progress = &prog
	second, err := BuildImage(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if second.Dir != first.Dir || second.Size != first.Size {
		t.Errorf("second build %+v differs from the first %+v", second, first)
	}
	if n := reg.downloads.Load(); n != 1 {
		t.Errorf("tarball downloaded %d times, want 1", n)
	}
	if prog.Len() != 0 {
		t.Errorf("an existing flavour printed progress: %q", prog.String())
	}
}

func TestBuildImageConcurrentBuildsOnce(t *testing.T) {
	t.Parallel()
	reg := newFakeRegistry(t, DefaultVersion)
	deb := newFakeDebian(t)
	o := fakeOptions(t, reg, deb)
	const n = 4
	var wg sync.WaitGroup
	dirs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			im, err := BuildImage(context.Background(), o)
			errs[i] = err
			if err == nil {
				dirs[i] = im.Dir
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs[1:] {
		if d != dirs[0] {
			t.Errorf("builds disagree: %v", dirs)
		}
	}
	if got := reg.downloads.Load(); got != 1 {
		t.Errorf("tarball downloaded %d times by %d concurrent builds, want 1", got, n)
	}
	if got := deb.downloads()["libc6"]; got != 1 {
		t.Errorf("libc6 fetched %d times, want 1", got)
	}
}

func TestBuildImageIntegrityMismatch(t *testing.T) {
	t.Parallel()
	reg := newFakeRegistry(t, DefaultVersion)
	reg.integrity = "sha512-" + strings.Repeat("A", 86) + "=="
	o := fakeOptions(t, reg, newFakeDebian(t))
	_, err := BuildImage(context.Background(), o)
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("err = %v, want ErrIntegrity", err)
	}
	if _, err := FindImage(o.CacheDir, o.Version); !errors.Is(err, ErrImageMissing) {
		t.Errorf("after a failed build FindImage = %v, want ErrImageMissing", err)
	}
	if leftovers, _ := os.ReadDir(filepath.Join(o.CacheDir, "tmp")); len(leftovers) != 0 {
		t.Errorf("unverified files left behind: %v", leftovers)
	}
	if des, _ := os.ReadDir(filepath.Join(o.CacheDir, "flavours")); len(des) != 1 || des[0].Name() != ".claude-code.lock" {
		t.Errorf("flavours/ holds %v after a failed build", des)
	}
}

func TestBuildImageRejectsWeakIntegrity(t *testing.T) {
	t.Parallel()
	reg := newFakeRegistry(t, DefaultVersion)
	reg.integrity = "sha1-" + strings.Repeat("A", 27) + "="
	_, err := BuildImage(context.Background(), fakeOptions(t, reg, newFakeDebian(t)))
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "no sha512") {
		t.Fatalf("err = %v, want ErrIntegrity for a sha1-only integrity", err)
	}
}

func TestBuildImageUnknownVersion(t *testing.T) {
	t.Parallel()
	reg := newFakeRegistry(t, DefaultVersion)
	o := fakeOptions(t, reg, newFakeDebian(t))
	o.Version = "9.9.9"
	_, err := BuildImage(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "has no "+NPMPackage+"@9.9.9") {
		t.Fatalf("err = %v", err)
	}
}

func TestBuildImageRefreshFollowsDebian(t *testing.T) {
	t.Parallel()
	reg := newFakeRegistry(t, DefaultVersion)
	deb := newFakeDebian(t)
	o := fakeOptions(t, reg, deb)
	old, err := BuildImage(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	deb.setVersion("libc6", "2.36-9+deb12u100")
	if im, err := BuildImage(context.Background(), o); err != nil || im.Dir != old.Dir {
		t.Fatalf("without Refresh: %v, %v; want the existing flavour", im, err)
	}
	o.Refresh = true
	fresh, err := BuildImage(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Dir == old.Dir || !strings.HasSuffix(fresh.Dir, "-2.36-9_deb12u100") {
		t.Errorf("refreshed flavour %s, old %s", fresh.Dir, old.Dir)
	}
	if found, err := FindImage(o.CacheDir, ""); err != nil || found.Dir != fresh.Dir {
		t.Errorf("FindImage = %v, %v; want the newest flavour %s", found, err, fresh.Dir)
	}
	if again, err := BuildImage(context.Background(), o); err != nil || again.Dir != fresh.Dir || reg.downloads.Load() != 2 {
		t.Errorf("refresh with nothing new: %v, %v, %d downloads; want no rebuild", again, err, reg.downloads.Load())
	}
}

func TestBuildImageNeedsTheBinary(t *testing.T) {
	t.Parallel()
	reg := newFakeRegistry(t, DefaultVersion)
	reg.tarball = tgz(t, map[string][]byte{"package/package.json": []byte(`{"version":"` + DefaultVersion + `"}`)})
	reg.integrity = sriOf(reg.tarball)
	_, err := BuildImage(context.Background(), fakeOptions(t, reg, newFakeDebian(t)))
	if err == nil || !strings.Contains(err.Error(), "has no package/claude") {
		t.Fatalf("err = %v", err)
	}
}

func TestFindImageMissingNamesTheCommand(t *testing.T) {
	t.Setenv(VersionEnv, "")
	t.Setenv("VOIDBOX_CACHE_DIR", t.TempDir())
	_, err := FindImage("", "")
	var me *MissingError
	if !errors.Is(err, ErrImageMissing) || !errors.As(err, &me) {
		t.Fatalf("err = %v, want a MissingError", err)
	}
	if me.Command != "voidbox image build claude" || !strings.HasSuffix(err.Error(), "build it with: voidbox image build claude") {
		t.Errorf("command %q, message %q", me.Command, err)
	}
	other := t.TempDir()
	_, err = FindImage(other, "2.0.1")
	if !errors.As(err, &me) || me.Command != "voidbox image build claude --version 2.0.1 --cache-dir "+other {
		t.Errorf("err = %v", err)
	}
}

func TestFindImageIgnoresDamagedFlavour(t *testing.T) {
	t.Parallel()
	reg := newFakeRegistry(t, DefaultVersion)
	o := fakeOptions(t, reg, newFakeDebian(t))
	im, err := BuildImage(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(im.HostPath(im.Shell), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := FindImage(o.CacheDir, o.Version); !errors.Is(err, ErrImageMissing) {
		t.Errorf("FindImage on a damaged flavour = %v, want ErrImageMissing", err)
	}
	if list, err := ListImages(o.CacheDir); err != nil || len(list) != 0 {
		t.Errorf("ListImages = %v, %v", list, err)
	}
	if _, err := BuildImage(context.Background(), o); err != nil {
		t.Errorf("rebuilding over a damaged flavour: %v", err)
	}
}

func TestVersionValidation(t *testing.T) {
	t.Setenv(VersionEnv, "3.0.0-beta.1")
	if v, err := resolveVersion(""); err != nil || v != "3.0.0-beta.1" {
		t.Errorf("env override: %q, %v", v, err)
	}
	for _, bad := range []string{"../2.1.332", "latest", "2.1", "2.1.332/x", "2.1.332 "} {
		if _, err := FindImage(t.TempDir(), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("FindImage(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
