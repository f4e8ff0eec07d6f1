package toolbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/rootfs/rootfstest"
)

func TestParseSimulation(t *testing.T) {
	out := `Reading package lists...
Inst gcc-12-base (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64])
Inst libgcc-s1 (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64]) []
Inst git (1:2.39.5-0+deb12u3 Debian-Security:12/oldstable-security [amd64])
Conf git (1:2.39.5-0+deb12u3 Debian-Security:12/oldstable-security [amd64])
`
	pkgs, err := parseSimulation(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{"gcc-12-base", "12.2.0-14+deb12u1", "amd64"}, {"git", "1:2.39.5-0+deb12u3", "amd64"}, {"libgcc-s1", "12.2.0-14+deb12u1", "amd64"}}
	if !slices.Equal(pkgs, want) {
		t.Errorf("got %+v", pkgs)
	}
	if pkgs[1].debName() != "git_1%3a2.39.5-0+deb12u3_amd64.deb" {
		t.Errorf("deb name %s", pkgs[1].debName())
	}
	if _, err := parseSimulation("E: Unable to locate package nope\n"); err == nil {
		t.Error("no Inst lines parsed as success")
	}
}

// TestBuildSmallToolbox builds an image of jq (and what apt says it needs)
// from Debian's archive through the host's apt, as `voidbox image build
// toolbox` does for the full set, and runs the jq it contains.
func TestBuildSmallToolbox(t *testing.T) {
	cache := t.TempDir()
	ctx := context.Background()
	var progress strings.Builder
	im, err := Build(ctx, Options{CacheDir: cache, Packages: []string{"jq", "base-files"}, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if im.Refs[0] != Ref || len(im.Layers) != 1 || im.Env[0] == "" {
		t.Errorf("image %+v", im)
	}
	again, err := Build(ctx, Options{CacheDir: cache, Packages: []string{"jq", "base-files"}, Progress: &progress})
	if err != nil || again.Digest != im.Digest || !strings.Contains(progress.String(), "up to date") {
		t.Errorf("second build: %v, %s vs %s\n%s", err, again.Digest, im.Digest, progress.String())
	}
	s, err := oci.Open(cache)
	if err != nil {
		t.Fatal(err)
	}
	rf, err := s.BuildRootFS(ctx, Ref, oci.RootFSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files := rootfstest.Read(t, "erofs", rf.Path)
	for p, kind := range map[string]string{"/usr/bin/jq": "file", "/etc/os-release": "symlink", "/bin/sh": "symlink",
		"/etc/passwd": "file", "/tmp": "dir", "/lib64/ld-linux-x86-64.so.2": "symlink"} {
		if f, ok := files[p]; !ok || f.Kind != kind {
			t.Errorf("%s: %+v, want a %s", p, f, kind)
		}
	}
	if f := files["/tmp"]; f.Mode != 0o1777 || f.UID != 0 {
		t.Errorf("/tmp is %o owned by %d", f.Mode, f.UID)
	}
	// Run the image's jq with the image's own loader and libraries.
	x := filepath.Join(t.TempDir(), "x")
	if out, err := exec.Command("fsck.erofs", "--extract="+x, rf.Path).CombinedOutput(); err != nil {
		t.Fatalf("extracting: %v: %s", err, out)
	}
	libs := filepath.Join(x, "lib/x86_64-linux-gnu") + ":" + filepath.Join(x, "usr/lib/x86_64-linux-gnu")
	cmd := exec.Command(filepath.Join(x, "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), "--library-path", libs,
		filepath.Join(x, "usr/bin/jq"), "-n", `{"a":[1,2]} | .a | add`)
	cmd.Env = []string{"PATH=/nonexistent"}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "3" {
		t.Errorf("jq from the image: %v: %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(cache, "oci", "tmp")); err != nil {
		t.Error(err)
	}
}
