package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// procField is one "Name:\tvalue" line of /proc/PID/status.
func procField(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", name, pid)
	return ""
}

// TestQEMUConfinedVM: as root, QEMU runs under a uid of its own with its
// seccomp filter on (the acceptance: /proc/PID/status Seccomp: 2),
// in its own cgroup with limits, holding only the descriptors it was given
// (not one this process left inheritable), and a virtio-9p share under a
// directory only root can traverse still works.
func TestQEMUConfinedVM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test checks QEMU's jail, which needs voidbox to run as root (CI does)")
	}
	r := vmtest.Setup(t)
	host := vmtest.Host(t)
	// A share below a root-only directory, like the Claude Code flavour
	// below /root/.cache: QEMU's uid cannot traverse to it by path.
	private := filepath.Join(t.TempDir(), "private")
	share := filepath.Join(private, "share")
	if err := os.MkdirAll(share, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(private, 0o700)
	os.WriteFile(filepath.Join(share, "hello.txt"), []byte("through 9p\n"), 0o644)
	// A descriptor this process leaves inheritable, as a parent might.
	stray, err := syscall.Open(filepath.Join(private, "stray"), syscall.O_RDWR|syscall.O_CREAT, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(stray)

	cfg := host.Config("confined", policy.Sandbox{MemoryMiB: 256}, r.Kernel, r.Initramfs)
	cfg.Shares = []vmm.Share{{Tag: "ro", HostPath: share, ReadOnly: true}}
	ctx := context.Background()
	sb, err := sandbox.Boot(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	info := sb.Info()
	c := info.Confinement
	t.Logf("confinement: %s", c.Summary())
	if !c.OwnUID || !c.Seccomp {
		t.Fatalf("QEMU not confined: %s", c.Summary())
	}
	pid := info.QEMUPID
	uid := strconv.Itoa(c.UID)
	if got := procField(t, pid, "Uid"); got != strings.Repeat(uid+"\t", 3)+uid {
		t.Errorf("QEMU uid: %q, want %s everywhere", got, uid)
	}
	if got := procField(t, pid, "Gid"); !strings.HasPrefix(got, uid+"\t") {
		t.Errorf("QEMU gid: %q", got)
	}
	if got := procField(t, pid, "Groups"); got != "" {
		t.Errorf("QEMU has supplementary groups %q under TCG", got)
	}
	if got := procField(t, pid, "Seccomp"); got != "2" {
		t.Errorf("QEMU Seccomp: %s, want 2 (filter mode)", got)
	}
	if got := procField(t, pid, "NoNewPrivs"); got != "1" {
		t.Errorf("QEMU NoNewPrivs: %s", got)
	}
	if c.Cgroup == "" {
		t.Logf("no cgroup on this host: %s", c.CgroupReason)
	} else {
		cgs, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		first, _, _ := strings.Cut(c.Cgroup, ", ")
		if !strings.Contains(string(cgs), filepath.Base(first)) {
			t.Errorf("QEMU is not in %s:\n%s", first, cgs)
		}
	}
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join(fdDir, fd.Name()))
		switch {
		case strings.Contains(target, "stray"):
			t.Errorf("QEMU inherited the stray descriptor (fd %s -> %s)", fd.Name(), target)
		case target == "/dev/null", target == "/dev/urandom", target == r.Kernel, target == r.Initramfs, target == share,
			strings.HasPrefix(target, info.RuntimeDir+"/"),
			strings.HasPrefix(target, "pipe:"), strings.HasPrefix(target, "socket:"), strings.HasPrefix(target, "anon_inode:"):
		default:
			t.Errorf("QEMU holds an unexpected descriptor: fd %s -> %s", fd.Name(), target)
		}
	}

	if err := sb.Mount(ctx, "ro", "/mnt/ro", true); err != nil {
		t.Fatalf("mounting the 9p share under QEMU's uid: %v", err)
	}
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"cat", "/mnt/ro/hello.txt"}})
	if err != nil || res.ExitCode != 0 || string(res.Stdout) != "through 9p\n" {
		t.Fatalf("reading through 9p: %v %+v", err, res)
	}
	dirs := strings.Split(c.Cgroup, ", ")
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left after Close", d)
		}
	}
}
