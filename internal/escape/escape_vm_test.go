package escape_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// secretPath is where the guest's sysfs shows the control secret (root only).
const secretPath = "/sys/firmware/qemu_fw_cfg/by_name/opt/org.voidbox/secret/raw"

// buildProber compiles testdata/prober for the guest (static, linux/amd64).
func buildProber(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "prober")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/prober")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the prober: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// escapeCase is one attempt by the sandbox user. A probe case runs the
// prober, which must print "denied: …" (and the reason, when want is set,
// must be one of want); a shell case must exit non-zero.
type escapeCase struct {
	name  string
	probe []string // prober arguments
	sh    string   // or a shell command
	want  []string // acceptable denial reasons (substrings); nil: any
	// open marks an opening that exists by design (SECURITY.md says so):
	// the probe must succeed, so that closing it updates the docs too.
	open bool
}

var escapeCases = []escapeCase{
	{name: "read PID 1's environment", sh: "cat /proc/1/environ", want: []string{"Permission denied"}},
	{name: "read PID 1's memory map", sh: "cat /proc/1/maps", want: []string{"Permission denied"}},
	{name: "list PID 1's descriptors", sh: "ls /proc/1/fd", want: []string{"Permission denied"}},
	{name: "read the fw_cfg secret from sysfs", sh: "cat " + secretPath, want: []string{"Permission denied"}},
	// The slim kernel has no ioperm/iopl (ENOSYS), no module loading, no bpf(2).
	{name: "fw_cfg I/O ports by ioperm", probe: []string{"ioperm"}, want: []string{"operation not permitted", "function not implemented"}},
	{name: "all I/O ports by iopl", probe: []string{"iopl"}, want: []string{"operation not permitted", "function not implemented"}},
	{name: "I/O ports through /dev/port", probe: []string{"open", "/dev/port"}, want: []string{"permission denied", "no such file"}},
	{name: "physical memory through /dev/mem", probe: []string{"open", "/dev/mem"}, want: []string{"permission denied", "no such file"}},
	{name: "a device node of /dev/port made by mknod", probe: []string{"mknod", "/tmp/port"}, want: []string{"operation not permitted"}},
	{name: "open the control port and send a garbage frame", probe: []string{"ctlport"}, want: []string{"permission denied", "device or resource busy"}},
	{name: "mount a tmpfs (busybox mount)", sh: "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m"},
	{name: "mount a tmpfs (mount(2))", probe: []string{"mount", "/tmp/m2"}, want: []string{"operation not permitted"}},
	{name: "insmod a module of the guest", sh: "insmod $(find /lib/modules -name '*.ko*' | head -n 1)"},
	{name: "finit_module and init_module", probe: []string{"module", "/dev/null"}, want: []string{"operation not permitted", "function not implemented"}},
	// Without an allowlist the user may create user namespaces (and mount
	// inside them, never in the init namespace); with one they are closed
	// (max_user_namespaces=0, checked by internal/sandbox TestExecGuardVM).
	{name: "a user namespace without an allowlist", probe: []string{"userns"}, open: true},
	{name: "a mount namespace", probe: []string{"mountns"}, want: []string{"operation not permitted"}},
	{name: "ptrace PID 1", probe: []string{"ptrace"}, want: []string{"operation not permitted"}},
	{name: "kill PID 1", probe: []string{"kill1"}, want: []string{"operation not permitted"}},
	{name: "setuid(0)", probe: []string{"setuid0"}, want: []string{"operation not permitted"}},
	{name: "chroot", probe: []string{"chroot"}, want: []string{"operation not permitted"}},
	{name: "power off", probe: []string{"reboot"}, want: []string{"operation not permitted"}},
	{name: "a BPF map", probe: []string{"bpf"}, want: []string{"operation not permitted", "function not implemented"}},
	{name: "a CPU-wide perf counter", probe: []string{"perfevent"}, want: []string{"permission denied", "operation not permitted"}},
	{name: "crash the kernel through sysrq", sh: "echo c > /proc/sysrq-trigger", want: []string{"Permission denied"}},
	{name: "change a sysctl", sh: "echo 1 > /proc/sys/kernel/sysrq", want: []string{"Permission denied"}},
	{name: "overwrite PID 1's program", sh: "echo x > /init", want: []string{"Permission denied"}},
	{name: "add a passwd entry", sh: "echo 'x::0:0::/:/bin/sh' >> /etc/passwd", want: []string{"Permission denied"}},
}

// TestEscapeVM runs every guest-side escape attempt as the sandbox user in
// one VM: each must fail, and the VM must go on serving after all of them.
func TestEscapeVM(t *testing.T) {
	root := privateRuntime(t)
	prober := buildProber(t)
	r := vmtest.Setup(t)
	before := snapshot(root)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := sandbox.Boot(ctx, vmtest.Host(t).Config("escape", policy.Sandbox{MemoryMiB: 256}, r.Kernel, r.Initramfs))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sb.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		assertNoLeak(t, root, before)
	}()
	if err := sb.WriteFile(ctx, "/tmp/prober", prober, 0o755); err != nil {
		t.Fatal(err)
	}
	// The secret as root sees it: the needle every uid 1000 search below
	// must not find.
	sec, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"cat", secretPath}, As: sandbox.AsRoot})
	if err != nil || sec.ExitCode != 0 {
		t.Fatalf("root cannot read the secret (the probes would prove nothing): %v %+v", err, sec)
	}
	secret := strings.TrimSpace(string(sec.Stdout))
	if len(secret) < 32 {
		t.Fatalf("secret %q too short to search for", secret)
	}
	running := snapshot(root)

	for _, c := range escapeCases {
		t.Run(c.name, func(t *testing.T) {
			cmd := sandbox.Cmd{Args: append([]string{"/tmp/prober"}, c.probe...), Timeout: 30 * time.Second}
			if c.sh != "" {
				cmd.Args = []string{"sh", "-c", c.sh}
			}
			res, err := sb.Exec(ctx, cmd)
			if err != nil {
				t.Fatalf("exec: %v", err)
			}
			out := string(res.Stdout) + string(res.Stderr)
			switch {
			case c.open:
				if string(res.Stdout) != "allowed\n" {
					t.Errorf("an opening documented in SECURITY.md is closed now (update the docs): %q", out)
				}
			case c.sh != "" && res.ExitCode == 0:
				t.Errorf("allowed (exit 0): %q", out)
			case c.sh == "" && !strings.HasPrefix(string(res.Stdout), "denied: "):
				t.Errorf("not denied (exit %d): %q", res.ExitCode, out)
			case c.want != nil && !containsAny(strings.ToLower(out), c.want):
				t.Errorf("denied for another reason than %q: %q", c.want, out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("the secret appeared in the output")
			}
			t.Logf("%s", strings.TrimSpace(out))
			assertNoLeak(t, root, running)
		})
	}

	t.Run("the secret is nowhere the sandbox user can read", func(t *testing.T) {
		// Every directory but /proc, /sys and /dev (devices block or never
		// end) and the image's programs and modules (/bin, /sbin, /lib,
		// /usr: built before this VM's secret existed, and read-only to the
		// user), then the kernel's log and command lines. The needle travels
		// in the environment, which only the searching processes themselves
		// can read.
		script := `for d in /* /usr/lib/voidbox; do case $d in /proc|/sys|/dev|/bin|/sbin|/lib|/usr) ;; *) grep -rlsF -e "$NEEDLE" "$d";; esac; done
cat /proc/cmdline /proc/1/cmdline | grep -cF -e "$NEEDLE"
dmesg 2>/dev/null | grep -cF -e "$NEEDLE"
true`
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", script}, Env: map[string]string{"NEEDLE": secret}, Timeout: time.Minute})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("search: %v %+v", err, res)
		}
		// No file name, and each grep -c prints 0.
		if got := string(res.Stdout); got != "0\n0\n" {
			t.Errorf("the secret was found: %q (stderr %q)", got, res.Stderr)
		}
		cmdline, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"cat", "/proc/cmdline"}})
		if err != nil || cmdline.ExitCode != 0 || len(cmdline.Stdout) == 0 {
			t.Fatalf("/proc/cmdline: %v %+v", err, cmdline)
		}
		t.Logf("guest /proc/cmdline: %s", strings.TrimSpace(string(cmdline.Stdout)))
	})

	t.Run("the VM still serves", func(t *testing.T) {
		if err := sb.Ping(ctx); err != nil {
			t.Fatalf("ping after the probes: %v", err)
		}
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"id", "-u"}})
		if err != nil || string(res.Stdout) != "1000\n" {
			t.Fatalf("id -u: %v %+v", err, res)
		}
	})
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}
