package slimkernel

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFragmentWellFormed: every line of the config fragment is a comment
// or CONFIG_NAME=value with a bool, number or string value, none is a
// module (=m: nothing may need module loading), and no option is given
// twice.
func TestFragmentWellFormed(t *testing.T) {
	opt := regexp.MustCompile(`^CONFIG_[A-Z0-9_]+=(y|n|[0-9]+|"[^"]*")$`)
	seen := map[string]bool{}
	for i, line := range strings.Split(Fragment, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !opt.MatchString(line) {
			t.Errorf("slim.config:%d: %q is not CONFIG_NAME=y|n|number|\"string\"", i+1, line)
		}
		name, _, _ := strings.Cut(line, "=")
		if seen[name] {
			t.Errorf("slim.config:%d: %s given twice", i+1, name)
		}
		seen[name] = true
	}
	for _, must := range []string{"CONFIG_PVH", "CONFIG_VIRTIO_MMIO", "CONFIG_VIRTIO_CONSOLE", "CONFIG_SECCOMP_FILTER", "CONFIG_FW_CFG_SYSFS",
		"CONFIG_9P_FS", "CONFIG_VIRTIO_FS", "CONFIG_OVERLAY_FS", "CONFIG_EROFS_FS", "CONFIG_EXT4_FS", "CONFIG_VIRTIO_NET", "CONFIG_MEMCG"} {
		if !seen[must] {
			t.Errorf("slim.config lacks %s", must)
		}
	}
	if !seen["CONFIG_MODULES"] || !strings.Contains(Fragment, "CONFIG_MODULES=n") {
		t.Error("slim.config must turn module support off")
	}
}

// TestCheckConfig: an option the Kconfig dropped or changed is named; an
// "n" option is met when unset or absent.
func TestCheckConfig(t *testing.T) {
	var full strings.Builder
	for _, o := range fragmentOptions() {
		switch {
		case o[1] == "n" && o[0] == "CONFIG_MODULES":
			full.WriteString("# CONFIG_MODULES is not set\n")
		case o[1] == "n":
			// absent: met
		default:
			full.WriteString(o[0] + "=" + o[1] + "\n")
		}
	}
	if bad := CheckConfig(full.String()); len(bad) != 0 {
		t.Fatalf("a config with every option: %v", bad)
	}
	cfg := strings.Replace(full.String(), "CONFIG_EROFS_FS=y\n", "", 1)
	cfg = strings.Replace(cfg, "CONFIG_VIRTIO_NET=y\n", "CONFIG_VIRTIO_NET=m\n", 1)
	cfg += "CONFIG_VT=y\n"
	bad := CheckConfig(cfg)
	want := []string{"CONFIG_VT=n (got y)", "CONFIG_VIRTIO_NET=y (got m)", "CONFIG_EROFS_FS=y (got n)"}
	if len(bad) != len(want) {
		t.Fatalf("got %v, want %v (any order)", bad, want)
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(bad, "; "), w) {
			t.Errorf("%q not reported in %v", w, bad)
		}
	}
}

func fakeBuild(t *testing.T, root, name, fragment string, at time.Time, vmlinux []byte) string {
	t.Helper()
	dir := filepath.Join(root, "kernels", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vmlinux"), vmlinux, 0o644); err != nil {
		t.Fatal(err)
	}
	k := Kernel{Key: strings.Repeat("a", 64), FragmentDigest: fragment, Release: "6.1.192-voidbox-slim", BuiltAt: at,
		VmlinuxSize: int64(len(vmlinux)), VmlinuxSHA256: "0000"}
	b, _ := json.Marshal(k)
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLookup: the newest complete build of this fragment is found; a
// build of another fragment, one whose vmlinux is not the recorded size
// and a directory without a record are not builds.
func TestLookup(t *testing.T) {
	root := t.TempDir()
	if _, err := Lookup(root); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("empty cache: %v", err)
	}
	now := time.Now().UTC()
	older := fakeBuild(t, root, "slim-old", fragmentDigest(), now.Add(-time.Hour), []byte("old"))
	newer := fakeBuild(t, root, "slim-new", fragmentDigest(), now, []byte("new"))
	fakeBuild(t, root, "slim-other", strings.Repeat("b", 64), now.Add(time.Hour), []byte("other"))
	k, err := Lookup(root)
	if err != nil {
		t.Fatal(err)
	}
	if k.Dir != newer || k.Vmlinux != filepath.Join(newer, "vmlinux") {
		t.Errorf("found %s, want %s", k.Dir, newer)
	}
	if err := k.Verify(); err == nil {
		t.Error("Verify passed a vmlinux whose digest is not the recorded one")
	}
	if err := os.WriteFile(filepath.Join(newer, "vmlinux"), []byte("truncated!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if k, err = Lookup(root); err != nil || k.Dir != older {
		t.Errorf("with the newer vmlinux damaged: %v, %v", k, err)
	}
	if err := os.Remove(filepath.Join(older, "kernel.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup(root); !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "voidbox kernel build") {
		t.Errorf("no complete build left: %v", err)
	}
}
