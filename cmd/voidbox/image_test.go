package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/oci/ocitest"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestImageE2E is issue #10's "done when": the toolbox image, pushed to
// Debian's docker-registry on loopback, pulled with `voidbox image pull`,
// runs curl and jq under `voidbox exec --image`; an image not pulled yet
// is pulled on demand; two host mounts, one read-only (writes refused,
// the host file unchanged) and one read-write (the host sees the file,
// owned by the invoking user); a missing mount path is a usage error.
func TestImageE2E(t *testing.T) {
	tb := vmtest.Toolbox(t)
	store, err := oci.Open("")
	if err != nil {
		t.Fatal(err)
	}
	img, err := store.Image(tb.Digest)
	if err != nil {
		t.Fatal(err)
	}
	reg := ocitest.Distribution(t)
	pulled, onDemand := reg+"/toolbox:1", reg+"/toolbox:2"
	for _, ref := range []string{pulled, onDemand} {
		ocitest.Push(t, ref, img)
		t.Cleanup(func() { _, _ = store.Remove(context.Background(), ref) })
	}

	r := voidbox(t, "", "image", "pull", pulled)
	if r.code != 0 || !strings.Contains(r.stdout, tb.Digest) {
		t.Fatalf("image pull: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = voidbox(t, "", "exec", "--image", pulled, "--", "sh", "-c", "curl --version && jq --version && cat /etc/os-release")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "curl ") || !strings.Contains(r.stdout, "\njq-1.") ||
		!strings.Contains(r.stdout, "ID=debian") {
		t.Fatalf("exec --image: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = voidbox(t, "", "exec", "--image", onDemand, "--", "jq", "-n", "1+1")
	if r.code != 0 || r.stdout != "2\n" || !strings.Contains(r.stderr, "pulling it") {
		t.Fatalf("exec of an image not pulled: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	host := t.TempDir()
	ro, rw := filepath.Join(host, "ro"), filepath.Join(host, "rw")
	for _, d := range []string{ro, rw} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ro, "f"), []byte("original\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = voidbox(t, "", "exec", "--image", pulled, "--mount", ro+":/mnt/ro", "--mount", rw+":/mnt/rw:rw", "--",
		"sh", "-c", "cat /mnt/ro/f; echo changed > /mnt/ro/f 2>&1 || echo refused; python3 -c 'open(\"/mnt/rw/g\", \"w\").write(\"made\")'")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "original\n") || !strings.Contains(r.stdout+r.stderr, "Read-only file system") {
		t.Fatalf("two mounts: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(ro, "f")); string(b) != "original\n" {
		t.Errorf("the read-only mount's file changed: %q", b)
	}
	fi, err := os.Stat(filepath.Join(rw, "g"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() {
		t.Errorf("the guest's file belongs to uid %d on the host, want %d", st.Uid, os.Getuid())
	}
	r = voidbox(t, "", "exec", "--mount", filepath.Join(host, "missing")+":/mnt", "--", "true")
	if r.code != 2 || !strings.Contains(r.stderr, "no such file or directory") || !strings.Contains(r.stderr, "--mount") {
		t.Fatalf("missing mount path: exit %d stderr %q", r.code, r.stderr)
	}
}
