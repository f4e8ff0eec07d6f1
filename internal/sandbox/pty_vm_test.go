package sandbox_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// screen collects a terminal's output; wait blocks until it shows s.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *screen) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%q", want, s.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPtyVM: a command on a guest terminal gets a real tty of the given
// size, sees resizes, gets Ctrl-C as SIGINT for its foreground job only,
// passes its exit status through, and stays under the allowlist and
// rlimits like any exec. One VM for every case.
func TestPtyVM(t *testing.T) {
	p := policy.Sandbox{MemoryMiB: 256, AllowedCommands: []string{"sh", "tty", "stty", "sleep"}, Limits: policy.Limits{OpenFiles: 321}}
	sb := vmtest.Boot(t, "pty", p)
	ctx := context.Background()

	t.Run("tty, size and TERM", func(t *testing.T) {
		var out screen
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "tty; stty size; echo TERM=$TERM; ulimit -n; exit 3"},
			Stdout: &out, TTY: &sandbox.TTY{Rows: 30, Cols: 100, Term: "xterm-256color"}})
		if err != nil {
			t.Fatal(err)
		}
		got := out.String()
		for _, want := range []string{"/dev/pts/", "30 100\r\n", "TERM=xterm-256color\r\n", "321\r\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("output lacks %q: %q", want, got)
			}
		}
		if res.ExitCode != 3 {
			t.Errorf("exit code %d, want 3", res.ExitCode)
		}
	})

	t.Run("interactive shell: resize, Ctrl-C, exit", func(t *testing.T) {
		keys, typist := io.Pipe()
		defer typist.Close()
		resize := make(chan sandbox.WindowSize, 1)
		var out screen
		type result struct {
			res *sandbox.Result
			err error
		}
		done := make(chan result, 1)
		go func() {
			res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh"}, Env: map[string]string{"PS1": "box$ "},
				Stdin: keys, Stdout: &out, TTY: &sandbox.TTY{Rows: 24, Cols: 80, Resize: resize}})
			done <- result{res, err}
		}()
		typ := func(s string) {
			if _, err := io.WriteString(typist, s); err != nil {
				t.Fatal(err)
			}
		}
		out.wait(t, "box$ ")
		typ("stty size\r")
		out.wait(t, "24 80")
		resize <- sandbox.WindowSize{Rows: 50, Cols: 132}
		time.Sleep(200 * time.Millisecond) // the resize frame and the keys travel separately
		typ("stty size\r")
		out.wait(t, "50 132")
		typ("sleep 100\r")
		time.Sleep(time.Second)
		typ("\x03") // Ctrl-C: the line discipline signals the foreground job, not the shell
		out.wait(t, "^C")
		typ("echo status-$?\r")
		out.wait(t, "status-130")
		typ("echo still-$((40+2))\r")
		out.wait(t, "still-42")
		typ("exit 7\r")
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.res.ExitCode != 7 {
				t.Errorf("exit code %d, want 7", r.res.ExitCode)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("the shell did not exit; terminal:\n%q", out.String())
		}
	})

	t.Run("allowlist", func(t *testing.T) {
		var out screen
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"cat"}, Stdout: &out, TTY: &sandbox.TTY{}})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 126 || !strings.Contains(out.String(), "not allowed") {
			t.Errorf("cat on a terminal under allowlist [sh tty stty sleep]: exit %d, %q", res.ExitCode, out.String())
		}
	})

	// What a shell on a terminal starts is checked by the guest kernel like
	// any exec's children (it was not: only the terminal's first program was).
	t.Run("allowlist holds for what the terminal's shell starts", func(t *testing.T) {
		var out screen
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "cat /etc/passwd; echo rc=$?"}, Stdout: &out, TTY: &sandbox.TTY{}})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.String(); strings.Contains(got, "root:") || !strings.Contains(got, "rc=126") {
			t.Errorf("cat from a shell on a terminal under allowlist [sh tty stty sleep]: %q", got)
		}
		if len(res.Denied) == 0 || res.Denied[0].Program != "cat" {
			t.Errorf("the denial is not reported: %+v", res.Denied)
		}
	})
}
