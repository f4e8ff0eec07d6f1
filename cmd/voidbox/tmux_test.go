package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// term is a tmux server of the test's own (a private socket in a temp
// dir, no user config) running one command in a window of a given size:
// the real binary on a real terminal, read back with capture-pane.
type term struct {
	t    *testing.T
	sock string
}

// newTerm starts cmdline in a w×h window with XDG_RUNTIME_DIR=rt. The
// pane stays after the command exits so its screen and status can be read.
func newTerm(t *testing.T, w, h int, rt, cmdline string) *term {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed (scripts/lib.sh TEST_PACKAGES installs it)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g set-clipboard on\nset -g status off\nset -g default-terminal tmux-256color\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, sock: filepath.Join(dir, "sock")}
	tm.tmux("-f", conf, "new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h),
		"-e", "XDG_RUNTIME_DIR="+rt, "-e", "NO_COLOR=", cmdline+`; echo "`+exitMark+`$?"`)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *term) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is what the pane shows now, one string per row.
func (tm *term) screen() []string {
	tm.t.Helper()
	return strings.Split(strings.TrimSuffix(tm.tmux("capture-pane", "-p"), "\n"), "\n")
}

// waitFor polls the screen until ok holds, failing after d with the screen.
func (tm *term) waitFor(what string, d time.Duration, ok func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := strings.Join(tm.screen(), "\n")
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("waited %v for %s; the screen shows:\n%s", d, what, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (tm *term) waitText(text string, d time.Duration) string {
	tm.t.Helper()
	return tm.waitFor(fmt.Sprintf("%q", text), d, func(s string) bool { return strings.Contains(s, text) })
}

func (tm *term) keys(keys ...string) {
	tm.t.Helper()
	tm.tmux(append([]string{"send-keys"}, keys...)...)
}

func (tm *term) resize(w, h int) {
	tm.t.Helper()
	tm.tmux("resize-window", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h))
}

// exitMark precedes the command's exit status, printed after it ends
// (tmux 3.3's pane_dead_status is empty for a pane's first command).
const exitMark = "voidbox-test-exit="

// exited waits for the command to end and returns its exit status.
func (tm *term) exited(d time.Duration) int {
	tm.t.Helper()
	scr := tm.waitText(exitMark, d)
	var status int
	fmt.Sscan(scr[strings.LastIndex(scr, exitMark)+len(exitMark):], &status)
	return status
}
