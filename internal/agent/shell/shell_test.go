package shell

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
)

// runScript is Run with a test's workspace and a fixed environment.
func runScript(t *testing.T, ctx context.Context, script string, allowed ...string) (Result, []Denial) {
	t.Helper()
	p, err := NewPolicy(allowed)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []Denial
	res, err := Run(ctx, script, Options{
		Dir:    t.TempDir(),
		Env:    []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/nonexistent"},
		Policy: p,
		OnDenied: func(d Denial) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, d)
		},
	})
	if err != nil {
		t.Fatalf("Run(%q): %v", script, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return res, seen
}

func TestNoPolicyRunsEverything(t *testing.T) {
	res, seen := runScript(t, context.Background(), "echo hi; cat /dev/null; printf '%s\\n' \"$(head -c 3 /etc/passwd)\"; ls / >/dev/null && echo listed")
	if res.ExitCode != 0 || len(seen) != 0 || len(res.Denials) != 0 {
		t.Fatalf("exit %d, denials %v, output %q", res.ExitCode, res.Denials, res.Output)
	}
	if !strings.HasPrefix(res.Output, "hi\nroo\nlisted\n") {
		t.Errorf("output %q", res.Output)
	}
}

func TestAllowlistDeniesAfterExpansion(t *testing.T) {
	cases := []struct {
		script, denied string
	}{
		{"curl x", "curl"},
		{"$(echo wget) -q http://example.invalid", "wget"},
		{"x=wget; $x", "wget"},
		{"eval 'curl x'", "curl"},
		{"command curl x", "curl"},
		{"sh -c 'curl x'", "sh"},
		{"busybox wget x", "busybox"},
		{"env curl x", "env"},
		{"echo x | xargs curl", "xargs"},
		{"/usr/bin/curl x", "curl"},
		{"(cd /tmp && curl x)", "curl"},
		{"f() { curl \"$@\"; }; f x", "curl"},
		{"cat <(curl x)", "curl"},
	}
	for _, c := range cases {
		t.Run(c.script, func(t *testing.T) {
			res, seen := runScript(t, context.Background(), c.script+"; echo after", "cat", "echo", "ls", "find")
			if len(res.Denials) == 0 || len(seen) != len(res.Denials) {
				t.Fatalf("denials %v (callback saw %v), output %q", res.Denials, seen, res.Output)
			}
			d := res.Denials[0]
			if !strings.HasPrefix(d.Command, c.denied) && !strings.HasPrefix(d.Command, "/usr/bin/"+c.denied) {
				t.Errorf("denied command %q, want it to start with %q", d.Command, c.denied)
			}
			if !strings.Contains(d.Reason, "not in allowed_commands") {
				t.Errorf("reason %q", d.Reason)
			}
			if !strings.Contains(res.Output, "denied by policy") || !strings.HasSuffix(res.Output, "after\n") {
				t.Errorf("output %q: want the denial message and the script to go on", res.Output)
			}
		})
	}
}

func TestDeniedExecEndsTheScript(t *testing.T) {
	// exec replaces the shell: a refused exec ends the script with 126, as
	// bash does when exec cannot run its program.
	res, _ := runScript(t, context.Background(), "exec curl x; echo after", "cat")
	if res.ExitCode != 126 || len(res.Denials) != 1 || strings.Contains(res.Output, "after") {
		t.Errorf("result %+v", res)
	}
}

func TestDeniedCommandExitStatus(t *testing.T) {
	res, _ := runScript(t, context.Background(), "curl x; echo status=$?", "cat")
	if !strings.Contains(res.Output, "status=126") {
		t.Errorf("output %q, want status=126", res.Output)
	}
	res, _ = runScript(t, context.Background(), "curl x", "cat")
	if res.ExitCode != 126 {
		t.Errorf("exit %d, want 126", res.ExitCode)
	}
}

func TestAllowedCommandsRun(t *testing.T) {
	res, seen := runScript(t, context.Background(), "echo one > f; cat f; x=$(cat f); echo \"got $x\"; ls", "cat", "ls")
	if res.ExitCode != 0 || len(seen) != 0 {
		t.Fatalf("exit %d denials %v output %q", res.ExitCode, seen, res.Output)
	}
	if res.Output != "one\ngot one\nf\n" {
		t.Errorf("output %q", res.Output)
	}
}

func TestAllowedNameOutsideTrustedDirs(t *testing.T) {
	dir := t.TempDir()
	cat, err := filepath.EvalSymlinks("/bin/cat")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(cat, filepath.Join(dir, "cat")); err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{dir + "/cat /dev/null", "PATH=" + dir + " cat /dev/null", "cd " + dir + " && ./cat /dev/null"} {
		res, _ := runScript(t, context.Background(), script, "cat")
		if len(res.Denials) != 1 || !strings.Contains(res.Denials[0].Reason, "outside the trusted directories") {
			t.Errorf("%q: denials %v output %q", script, res.Denials, res.Output)
		}
	}
}

func TestFindExecChecksItsProgram(t *testing.T) {
	res, _ := runScript(t, context.Background(), "echo hi > x; find . -exec curl {} \\;; find . -type f -exec cat {} +", "find", "cat")
	if len(res.Denials) != 1 || !strings.Contains(res.Denials[0].Reason, `would run "curl"`) {
		t.Fatalf("denials %v output %q", res.Denials, res.Output)
	}
	if !strings.HasPrefix(res.Denials[0].Command, "find . -exec curl") {
		t.Errorf("denied command %q", res.Denials[0].Command)
	}
	if !strings.HasSuffix(res.Output, "hi\n") {
		t.Errorf("output %q: the allowed find -exec cat did not run", res.Output)
	}
}

func TestExitCodesAndErrors(t *testing.T) {
	for script, want := range map[string]int{
		"exit 3":                  3,
		"false":                   1,
		"cat /nonexistent":        1,
		"no-such-command-voidbox": 127,
		"echo 'unterminated":      2,
		"sh -c 'kill -9 $$'":      137,
	} {
		res, _ := runScript(t, context.Background(), script)
		if res.ExitCode != want {
			t.Errorf("%q: exit %d, want %d (output %q)", script, res.ExitCode, want, res.Output)
		}
	}
}

func TestStderrIsCaptured(t *testing.T) {
	res, _ := runScript(t, context.Background(), "echo out; echo err >&2; cat /nonexistent")
	for _, want := range []string{"out\n", "err\n", "/nonexistent"} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("output %q lacks %q", res.Output, want)
		}
	}
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	for _, script := range []string{"sleep 30", "while true; do :; done", "sh -c 'sleep 30; echo never' & wait"} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		res, _ := runScript(t, ctx, script)
		cancel()
		if !res.TimedOut || res.ExitCode != -1 {
			t.Errorf("%q: result %+v, want a timeout", script, res)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%q: took %v after a 300ms timeout", script, d)
		}
	}
}

func TestLeftoverChildrenDoNotHoldTheCall(t *testing.T) {
	start := time.Now()
	res, _ := runScript(t, context.Background(), "sh -c 'sleep 30 & echo started'; echo done")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v: a background child held the output open", d)
	}
	if res.Output != "started\ndone\n" || res.ExitCode != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestOutputIsCapped(t *testing.T) {
	p, _ := NewPolicy(nil)
	res, err := Run(context.Background(), "echo first; head -c 100000 /dev/zero | tr '\\0' a; echo; echo last", Options{
		Dir: t.TempDir(), Env: []string{"PATH=/usr/bin:/bin"}, Policy: p, OutputLimit: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Output, "first\naaa") || !strings.HasSuffix(res.Output, "aaa\nlast\n") {
		t.Errorf("output does not keep head and tail: %q", res.Output)
	}
	if res.Omitted != int64(100000+len("first\n\nlast\n")-1000) {
		t.Errorf("omitted %d", res.Omitted)
	}
	if !strings.Contains(res.Output, "bytes omitted") || len(res.Output) > 1100 {
		t.Errorf("output of %d bytes: %q", len(res.Output), res.Output)
	}
}

func TestNewPolicyRejectsPaths(t *testing.T) {
	for _, name := range []string{"/bin/cat", "", "bin/cat", ".."} {
		if _, err := NewPolicy([]string{name}); err == nil {
			t.Errorf("%q in allowed_commands was accepted", name)
		}
	}
}

// TestEmptyAllowlistDeniesEverything: [] is "no command allowed", not "no
// allowlist" (it was: an agent ran cat, id and wget with no denial).
func TestEmptyAllowlistDeniesEverything(t *testing.T) {
	p, err := NewPolicy([]string{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []Denial
	res, err := Run(context.Background(), "cat /etc/passwd; id; wget -q x; /bin/echo hi; echo builtin", Options{
		Dir: t.TempDir(), Env: []string{"PATH=/usr/bin:/bin"}, Policy: p,
		OnDenied: func(d Denial) { seen = append(seen, d) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Denials) != 4 || len(seen) != 4 {
		t.Fatalf("denials %v, output %q", res.Denials, res.Output)
	}
	if strings.Contains(res.Output, "root:") || strings.Contains(res.Output, "uid=") || strings.Contains(res.Output, "hi\n") ||
		!strings.HasSuffix(res.Output, "builtin\n") {
		t.Errorf("output %q", res.Output)
	}
}

// TestPolicyAgreesWithTheGuest: /usr/local/sbin is trusted by the guest's
// exec, so by the shell too (they disagreed). A program that is not there
// is refused for that, not for its directory.
func TestPolicyAgreesWithTheGuest(t *testing.T) {
	p, _ := NewPolicy([]string{"tool"})
	for _, d := range wire.CommandDirs() {
		if _, reason := p.program(d + "/tool"); strings.Contains(reason, "trusted directories") || !strings.Contains(reason, "no such file") {
			t.Errorf("%s/tool: %s", d, reason)
		}
	}
}

func TestLoaderVariablesDroppedUnderAllowlist(t *testing.T) {
	script := "LD_PRELOAD=/tmp/x.so LD_LIBRARY_PATH=/tmp KEEP=1 cat /proc/self/environ"
	res, _ := runScript(t, context.Background(), script, "cat")
	if strings.Contains(res.Output, "LD_") || !strings.Contains(res.Output, "KEEP=1") {
		t.Errorf("restricted environment %q", res.Output)
	}
	res, _ = runScript(t, context.Background(), script)
	if !strings.Contains(res.Output, "LD_PRELOAD=/tmp/x.so") {
		t.Errorf("unrestricted environment %q", res.Output)
	}
}
