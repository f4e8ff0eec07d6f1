package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/vmtest"
)

// shellQuote quotes args for the sh -c that tmux runs.
func shellQuote(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// checkFrame asserts the panel view fills a w×h screen cleanly after a
// resize: the header on top, the key help at the bottom, both panels'
// right borders in the last column, nothing of an earlier frame left.
func checkFrame(t *testing.T, rows []string, w, h int) {
	t.Helper()
	if len(rows) != h {
		t.Fatalf("%d rows on a %d-row screen:\n%s", len(rows), h, strings.Join(rows, "\n"))
	}
	if !strings.HasPrefix(rows[0], " voidbox run ") || !strings.Contains(rows[h-1], "q quit") {
		t.Errorf("%dx%d: header or footer missing:\n%s", w, h, strings.Join(rows, "\n"))
	}
	for i, r := range rows[1 : h-1] {
		runes := []rune(strings.TrimRight(r, " "))
		if len(runes) != w || !strings.ContainsRune("│╮╯", runes[len(runes)-1]) {
			t.Fatalf("%dx%d: row %d is not a clean panel row (%d cells): %q", w, h, i+1, len(runes), r)
		}
	}
}

// TestTUIFanOutE2E: voidbox run --tui on the fan-out example shows every
// stage reaching succeeded, redraws cleanly after resizes, and leaves on q
// with the report and exit status 0.
func TestTUIFanOutE2E(t *testing.T) {
	vmtest.Setup(t)
	rt := t.TempDir()
	tm := newTerm(t, 110, 30, rt, shellQuote(bin, "run", "--tui", "--file", "../../examples/fanout.yaml"))
	scr := tm.waitFor("every stage to succeed", 4*time.Minute, func(s string) bool {
		return strings.Contains(s, "· succeeded · 5/5 done")
	})
	for _, st := range []string{"numbers", "count", "sum", "max", "merge"} {
		if !regexp.MustCompile(`✓ ` + st + ` +succeeded`).MatchString(scr) {
			t.Errorf("stage %s not shown succeeded:\n%s", st, scr)
		}
	}
	if !strings.Contains(scr, `{"count":8,"sum":31,"max":9,"mean":3.88}`) {
		t.Errorf("merge's output not shown:\n%s", scr)
	}
	if p := os.Getenv("VOIDBOX_TUI_CAPTURE"); p != "" { // the README's picture
		_ = os.WriteFile(p, []byte(scr+"\n"), 0o644)
	}
	checkFrame(t, tm.screen(), 110, 30)
	for _, sz := range [][2]int{{80, 20}, {132, 40}, {100, 24}} {
		tm.resize(sz[0], sz[1])
		time.Sleep(500 * time.Millisecond)
		checkFrame(t, tm.screen(), sz[0], sz[1])
	}
	tm.keys("q")
	if code := tm.exited(time.Minute); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if scr := strings.Join(tm.screen(), "\n"); !strings.Contains(scr, "run number-stats succeeded") {
		t.Errorf("no report after the view closed:\n%s", scr)
	}
	if left := qemuPIDs(t, rt); len(left) > 0 {
		t.Errorf("qemu still running: %v", left)
	}
}

// TestTUICancelE2E: in the panel view, c and y cancel a long run: every VM
// is stopped and removed, and voidbox exits 130 after q.
func TestTUICancelE2E(t *testing.T) {
	vmtest.Setup(t)
	rt := t.TempDir()
	spec := filepath.Join(t.TempDir(), "long.yaml")
	if err := os.WriteFile(spec, []byte(`api_version: v1
kind: pipeline
name: long
sandbox:
  memory_mb: 256
pipeline:
  boxes:
    - name: slow-a
      exec: [sh, -c, "echo started; sleep 600"]
    - name: slow-b
      exec: [sh, -c, "echo started; sleep 600"]
  stages:
    - fan_out: [slow-a, slow-b]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := newTerm(t, 100, 24, rt, shellQuote(bin, "run", "--tui", "--file", spec))
	tm.waitFor("both VMs to run", 4*time.Minute, func(s string) bool {
		return strings.Contains(s, "2 VMs") && strings.Count(s, "started") >= 1
	})
	qemu := qemuPIDs(t, rt)
	if len(qemu) != 2 {
		t.Fatalf("want 2 qemu processes, found %v", qemu)
	}
	// The host's measurements of the selected stage's VM show.
	scr := tm.waitText("cpu ", time.Minute)
	if !regexp.MustCompile(`rss \d+ MiB \(guest 256 MiB\)`).MatchString(scr) {
		t.Errorf("no VM memory shown:\n%s", scr)
	}
	if p := os.Getenv("VOIDBOX_TUI_CAPTURE_RUNNING"); p != "" { // the README's picture
		_ = os.WriteFile(p, []byte(scr+"\n"), 0o644)
	}
	tm.keys("c")
	tm.waitText("Cancel run long?", 10*time.Second)
	tm.keys("y")
	scr = tm.waitText("· cancelled · 2/2 done", time.Minute)
	if strings.Count(scr, "cancelled") < 3 {
		t.Errorf("stages not shown cancelled:\n%s", scr)
	}
	for _, pid := range qemu {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("qemu %d still running after the run was cancelled", pid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(rt, "voidbox", "vm-*")); len(left) > 0 {
		t.Errorf("runtime dirs left: %v", left)
	}
	tm.keys("q")
	if code := tm.exited(time.Minute); code != 130 {
		t.Errorf("exit status %d, want 130", code)
	}
}

// TestTUIPlainWithoutTerminalE2E: with stdout and stdin not terminals,
// --tui falls back to the plain progress voidbox run prints without it,
// said once on stderr; the report is unchanged.
func TestTUIPlainWithoutTerminalE2E(t *testing.T) {
	vmtest.Setup(t)
	spec := filepath.Join(t.TempDir(), "one.yaml")
	if err := os.WriteFile(spec, []byte("api_version: v1\nkind: pipeline\nname: one\nsandbox:\n  memory_mb: 256\npipeline:\n  boxes:\n    - name: hi\n      exec: [echo, hi]\n  stages:\n    - box: hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := voidbox(t, "", "run", "--file", spec, "--progress", "plain")
	tui := voidbox(t, "", "run", "--tui", "--file", spec, "--progress", "plain")
	if plain.code != 0 || tui.code != 0 {
		t.Fatalf("exit %d / %d: %s / %s", plain.code, tui.code, plain.stderr, tui.stderr)
	}
	notice := "voidbox: no panel view (standard input is not a terminal): plain progress instead\n"
	if !strings.HasPrefix(tui.stderr, notice) {
		t.Errorf("stderr does not start with the notice: %q", tui.stderr)
	}
	// Times differ between the two runs, and so does the width of the
	// report's duration column ("980ms" vs "1.02s"): mask both.
	times := regexp.MustCompile(`\d\d:\d\d:\d\d|\d+(\.\d+)?m?s`)
	spaces := regexp.MustCompile(` +`)
	mask := func(s string) string { return spaces.ReplaceAllString(times.ReplaceAllString(s, "T"), " ") }
	if a, b := mask(plain.stderr), mask(strings.TrimPrefix(tui.stderr, notice)); a != b {
		t.Errorf("plain progress differs with --tui:\n%s\nvs\n%s", a, b)
	}
	if a, b := mask(plain.stdout), mask(tui.stdout); a != b {
		t.Errorf("report differs with --tui:\n%s\nvs\n%s", a, b)
	}
}

// TestShellE2E: voidbox shell gives a prompt on a terminal of the pane's
// size; Ctrl-C interrupts the foreground command, not the shell; a resize
// reaches the guest; exit 3 exits voidbox with 3.
func TestShellE2E(t *testing.T) {
	vmtest.Setup(t)
	rt := t.TempDir()
	tm := newTerm(t, 90, 30, rt, shellQuote(bin, "shell", "--memory", "256M"))
	tm.waitText("sandbox:/workspace$", 3*time.Minute)
	tm.keys("stty size; tty; id -u", "Enter")
	tm.waitText("30 90\n/dev/pts/0\n1000", 30*time.Second)
	tm.keys("sleep 100", "Enter")
	time.Sleep(time.Second)
	tm.keys("C-c")
	tm.keys("echo status=$?", "Enter")
	tm.waitText("status=130", 30*time.Second)
	tm.resize(70, 20)
	time.Sleep(500 * time.Millisecond)
	tm.keys("clear; stty size", "Enter")
	tm.waitText("20 70", 30*time.Second)
	// The guest's attempt at the clipboard and a title report never reach
	// the terminal: this tmux accepts OSC 52 from what runs in it
	// (set-clipboard on), so a sequence that got through would be a buffer.
	tm.keys(`printf '\033]52;c;cHduZWQ=\a\033[21tafter\n'`, "Enter")
	tm.waitText("after", 30*time.Second)
	if bufs := tm.tmux("list-buffers"); strings.TrimSpace(bufs) != "" {
		t.Errorf("the guest set the terminal's clipboard: %q", bufs)
	}
	tm.keys("exit 3", "Enter")
	if code := tm.exited(time.Minute); code != 3 {
		t.Errorf("exit status %d, want 3", code)
	}
	if left := qemuPIDs(t, rt); len(left) > 0 {
		t.Errorf("qemu still running: %v", left)
	}
}
