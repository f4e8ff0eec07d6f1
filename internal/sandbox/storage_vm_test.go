package sandbox_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/voidbox/voidbox/internal/imagedisk"
	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/oci/ocitest"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// imageFixture is a cache with a small busybox root image and a skill
// image, pulled from a real registry and converted as a user's would be.
type imageFixture struct {
	cache       string
	store       *oci.Store
	root, skill string // references
}

func newImageFixture(t *testing.T) *imageFixture {
	t.Helper()
	r := vmtest.Setup(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := ocitest.Registry(t)
	files := ocitest.BusyboxRoot(t, r.BusyboxBinary, "voidtest")
	files["/srv"] = ocitest.File{Kind: tar.TypeDir, Mode: 0o755}
	// An image's resolv.conf is often a symlink (systemd's stub): the
	// guest must replace it inside the image, never write through it.
	if _, ok := files["/etc"]; !ok {
		files["/etc"] = ocitest.File{Kind: tar.TypeDir, Mode: 0o755}
	}
	files["/etc/resolv.conf"] = ocitest.File{Kind: tar.TypeSymlink, Link: "/run/stub-resolv.conf"}
	// A setuid-root copy of busybox: nosuid must keep it from making the
	// sandbox user root.
	bb := files["/bin/busybox"]
	files["/bin/busybox-suid"] = ocitest.File{Mode: 0o4755, Data: bb.Data}
	// A directory the image gives to uid 1000: the allowlist must not
	// trust a program in it, though it is on the trusted list.
	files["/usr/local"] = ocitest.File{Kind: tar.TypeDir}
	files["/usr/local/bin"] = ocitest.File{Kind: tar.TypeDir, UID: 1000, GID: 1000}
	files["/usr/local/bin/cat"] = ocitest.File{Mode: 0o755, Data: bb.Data}
	root := ocitest.Image(t, ocitest.Config{Env: []string{"PATH=/usr/local/bin:/bin:/usr/bin", "GREETING=from-image", "HOME=/root"},
		WorkingDir: "/srv", User: "root"}, ocitest.Layer(t, files))
	skill := ocitest.Image(t, ocitest.Config{}, ocitest.Layer(t, map[string]ocitest.File{
		"/bin":          {Kind: tar.TypeDir},
		"/bin/hello":    {Mode: 0o755, Data: "#!/bin/sh\necho hello from the skill\n"},
		"/SKILL.md":     {Data: "---\nname: hello\ndescription: says hello\n---\nRun hello.\n"},
		"/share":        {Kind: tar.TypeDir},
		"/share/notice": {Data: "read-only\n"},
	}))
	f := &imageFixture{cache: t.TempDir(), root: reg + "/test/root:1", skill: reg + "/test/skill:1"}
	ocitest.Push(t, f.root, root)
	ocitest.Push(t, f.skill, skill)
	var err error
	if f.store, err = oci.Open(f.cache); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{f.root, f.skill} {
		if _, err := f.store.Pull(context.Background(), ref, oci.PullOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.BuildRootFS(context.Background(), ref, oci.RootFSOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *imageFixture) boot(t *testing.T, name string, p policy.Sandbox, images ...sandbox.ImageMount) *sandbox.Sandbox {
	t.Helper()
	r := vmtest.Setup(t)
	h := vmtest.Host(t)
	h.Images = imagedisk.New(f.cache)
	cfg := h.Config(name, p, r.Kernel, r.Initramfs)
	cfg.ImageMounts = images
	sb, err := sandbox.Boot(context.Background(), cfg)
	if err != nil {
		t.Fatalf("booting %s: %v", name, err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

func run(t *testing.T, sb *sandbox.Sandbox, script string) (string, int) {
	t.Helper()
	res, err := sb.Exec(context.Background(), sandbox.Cmd{Args: []string{"sh", "-c", script}})
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return strings.TrimSpace(string(res.Stdout) + string(res.Stderr)), res.ExitCode
}

// TestImageRootVM boots one VM from an OCI image with a skill image and
// two host mounts, and checks what the sandbox user sees: the image's
// files, its Env and WorkingDir (HOME and User not taken), the disk budget
// as its writable layer, setuid bits without effect, the skill read-only
// with its tools runnable; the read-only mount refusing writes (the host
// file unchanged), the read-write one writing files the host user owns,
// and no way out of either through "..", symlinks or hard links.
func TestImageRootVM(t *testing.T) {
	f := newImageFixture(t)
	host := t.TempDir()
	ro, rw := filepath.Join(host, "ro"), filepath.Join(host, "rw")
	for _, d := range []string{ro, rw} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// What must stay out of reach: a file beside the shares, one owned by
	// another user, and links to both inside the read-only share.
	secret := filepath.Join(host, "secret")
	other := filepath.Join(host, "other")
	for _, p := range []string{secret, other} {
		if err := os.WriteFile(p, []byte("host secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(other, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	mustDo(t, os.WriteFile(filepath.Join(ro, "data"), []byte("original\n"), 0o644))
	mustDo(t, os.Symlink("../secret", filepath.Join(ro, "up")))
	mustDo(t, os.Symlink(secret, filepath.Join(ro, "abs")))
	mustDo(t, os.Link(other, filepath.Join(ro, "hard")))

	// The network reaches the image's programs: its resolver is the
	// policy's, and the policy's CA lands in the image's bundle.
	ca := newTestCA(t, "example.test")
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page for the image") }))
	t.Cleanup(page.Close)
	_, pagePort, _ := net.SplitHostPort(page.Listener.Addr().String())

	sb := f.boot(t, "image", policy.Sandbox{DiskMiB: 64, Env: map[string]string{"FROM_POLICY": "yes"},
		Image: f.root, Mounts: []policy.Mount{{Host: ro, Guest: "/mnt/ro"}, {Host: rw, Guest: "/workspace/out", Mode: policy.ReadWrite}},
		Network: mustNet(t, map[string]any{"allow": []any{"example.test"}, "hosts": map[string]any{"example.test": "127.0.0.1"}}),
		CACerts: ca.pem},
		sandbox.ImageMount{Ref: f.skill, Path: "/skills/hello"})

	checks := []struct{ name, script, want string }{
		{"os-release", "cat /etc/os-release | head -1", "ID=voidtest"},
		{"user", "id -u; whoami; echo $HOME", "1000\nsandbox\n/home/sandbox"},
		{"image env under policy env", "echo $GREETING $FROM_POLICY $PATH", "from-image yes /usr/local/bin:/bin:/usr/bin"},
		{"working dir", "pwd", "/srv"},
		{"writable layer", "echo x > /workspace/a && echo y > /tmp/b && cat /workspace/a /tmp/b", "x\ny"},
		{"image files are root's", "touch /bin/new 2>&1; echo $?", "touch: /bin/new: Permission denied\n1"},
		{"no setuid", "/bin/busybox-suid id -u", "1000"},
		{"skill tool", "/skills/hello/bin/hello && head -2 /skills/hello/SKILL.md | tail -1", "hello from the skill\nname: hello"},
		{"skill read-only", "touch /skills/hello/x 2>&1; echo $?", "touch: /skills/hello/x: Read-only file system\n1"},
		{"ro mount reads", "cat /mnt/ro/data", "original"},
		{"ro mount refuses writes", "{ echo changed > /mnt/ro/data; } 2>&1; echo $?; touch /mnt/ro/new 2>&1; echo $?",
			"sh: can't create /mnt/ro/data: Read-only file system\n1\ntouch: /mnt/ro/new: Read-only file system\n1"},
		{"rw mount writes", "echo made > /workspace/out/made && ls -ln /workspace/out/made | awk '{print $3}'", "1000"},
		{"dot-dot stays in the guest", "cat /mnt/ro/../secret 2>&1; ls /mnt", "cat: can't open '/mnt/ro/../secret': No such file or directory\nro"},
		{"relative symlink resolves in the guest", "cat /mnt/ro/up 2>&1", "cat: can't open '/mnt/ro/up': No such file or directory"},
		{"absolute symlink resolves in the guest", "cat /mnt/ro/abs 2>&1", "cat: can't open '/mnt/ro/abs': No such file or directory"},
		{"hard link to another user's file", "cat /mnt/ro/hard 2>&1; stat -c %u /mnt/ro/hard", "cat: can't open '/mnt/ro/hard': Permission denied\n65534"},
		{"the image's resolv.conf replaced, not written through", "test -L /etc/resolv.conf; echo $?; grep nameserver /etc/resolv.conf", "1\nnameserver 10.0.2.2"},
		{"an allowed name from the image", "wget -qO- http://example.test:" + pagePort + "/", "page for the image"},
		{"another name from the image", "wget -qO- http://other.test:" + pagePort + "/ 2>&1; echo $?", "wget: bad address 'other.test:" + pagePort + "'\n1"},
		{"the policy's CA in the image's bundle", "grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt", "1"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if got, _ := run(t, sb, c.script); got != c.want {
				t.Errorf("%s:\n got %q\nwant %q", c.script, got, c.want)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(ro, "data")); err != nil || string(b) != "original\n" {
		t.Errorf("the read-only share's file changed: %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(rw, "made"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
		t.Errorf("the guest's file is owned by %d:%d on the host, want the invoking user %d:%d", st.Uid, st.Gid, os.Getuid(), os.Getgid())
	}
	// Host file requests see the image root too.
	if b, err := sb.ReadFile(context.Background(), "/etc/os-release"); err != nil || !strings.HasPrefix(string(b), "ID=voidtest") {
		t.Errorf("ReadFile: %q, %v", b, err)
	}
	if err := sb.WriteFile(context.Background(), "/workspace/out/from-host", []byte("hi"), 0o644); err != nil {
		t.Error(err)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "from-host")); err != nil || string(b) != "hi" {
		t.Errorf("host write through the mount: %q, %v", b, err)
	}

	// A held image cannot be removed; once the VM is gone it can.
	if _, err := f.store.Remove(context.Background(), f.root); !errors.Is(err, oci.ErrInUse) {
		t.Errorf("rm of an image in use: %v", err)
	}
	sb.Close()
	if _, err := f.store.Remove(context.Background(), f.root); err != nil {
		t.Errorf("rm after the VM stopped: %v", err)
	}
}

// TestImagePolicyVM: the allowlist and rlimits hold on an image exactly as
// on the initramfs, and a trusted directory the image gives to uid 1000
// is not trusted.
func TestImagePolicyVM(t *testing.T) {
	f := newImageFixture(t)
	sb := f.boot(t, "image-policy", policy.Sandbox{Image: f.root, AllowedCommands: []string{"sh", "cat", "id"},
		Limits: policy.Limits{OpenFiles: 77}})
	ctx := context.Background()
	exec := func(args ...string) *sandbox.Result {
		t.Helper()
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: args})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := exec("sh", "-c", "ulimit -n; id -u"); res.ExitCode != 0 || strings.TrimSpace(string(res.Stdout)) != "77\n1000" {
		t.Errorf("rlimits: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	if res := exec("ls", "/"); res.ExitCode != 126 || !strings.Contains(string(res.Stderr), "not allowed") {
		t.Errorf("ls ran: %d %q", res.ExitCode, res.Stderr)
	}
	// The image's PATH finds /usr/local/bin/cat first: a directory of
	// uid 1000, so refused, though "cat" is allowed.
	if res := exec("cat", "/etc/os-release"); res.ExitCode != 126 || !strings.Contains(string(res.Stderr), "not root's alone") {
		t.Errorf("cat from a directory of uid 1000: %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"cat", "/etc/os-release"}, Env: map[string]string{"PATH": "/bin"}})
	if err != nil || res.ExitCode != 0 || !strings.HasPrefix(string(res.Stdout), "ID=voidtest") {
		t.Errorf("cat from /bin: %v %+v", err, res)
	}
}

// TestMountsVM: host mounts on voidbox's own initramfs, and the spec
// errors that come before any boot: a missing host path, a file.
func TestMountsVM(t *testing.T) {
	r := vmtest.Setup(t)
	h := vmtest.Host(t)
	dir := t.TempDir()
	mustDo(t, os.WriteFile(filepath.Join(dir, "f"), []byte("host file\n"), 0o644))
	for _, bad := range []string{filepath.Join(dir, "missing"), filepath.Join(dir, "f")} {
		_, err := sandbox.Boot(context.Background(), h.Config("bad", policy.Sandbox{Mounts: []policy.Mount{{Host: bad, Guest: "/data"}}}, r.Kernel, r.Initramfs))
		if !errors.Is(err, sandbox.ErrInvalid) || !strings.Contains(err.Error(), "mounts[0].host") {
			t.Errorf("mount of %s: %v", bad, err)
		}
	}
	sb, err := sandbox.Boot(context.Background(), h.Config("mounts", policy.Sandbox{Mounts: []policy.Mount{
		{Host: dir, Guest: "/workspace", Mode: policy.ReadWrite}}}, r.Kernel, r.Initramfs))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	// Over /workspace: commands start there, the default output file lands on the host.
	if got, _ := run(t, sb, "cat f && echo out > output.json && pwd"); got != "host file\n/workspace" {
		t.Errorf("got %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "output.json")); err != nil || string(b) != "out\n" {
		t.Errorf("output on the host: %q, %v", b, err)
	}
	if got, _ := run(t, sb, "ls -ln /workspace/f | awk '{print $3}'"); got != "1000" {
		t.Errorf("host user's file owned by %s in the guest, want 1000", got)
	}
	if got, _ := run(t, sb, "cat /proc/mounts | grep -c virtiofs"); got != "1" {
		t.Errorf("virtiofs mounts: %s", got)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
