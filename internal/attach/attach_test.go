package attach

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// noShell is a VM that must not be asked to run anything.
type noShell struct{ t *testing.T }

func (n noShell) Exec(context.Context, sandbox.Cmd) (*sandbox.Result, error) {
	n.t.Error("Exec called")
	return nil, nil
}

func listen(t *testing.T, info Info) (*Server, Target) {
	t.Helper()
	parent := t.TempDir()
	dir := filepath.Join(parent, "vm-test-1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := Listen(dir, info, noShell{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	targets := List([]string{parent, filepath.Join(parent, "missing")})
	if len(targets) != 1 {
		t.Fatalf("List found %d targets", len(targets))
	}
	return srv, targets[0]
}

func TestFollowHistoryLiveAndEnd(t *testing.T) {
	srv, tg := listen(t, Info{Run: "r", Stage: "s", Attempt: 2, OwnerPID: os.Getpid(), Started: time.Now()})
	if tg.Run != "r" || tg.Stage != "s" || tg.Attempt != 2 || tg.Shell {
		t.Fatalf("target %+v", tg)
	}
	fi, err := os.Stat(tg.Socket())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v (%v), want 0600", fi.Mode(), err)
	}
	out := func(s string) event.Event {
		return event.Event{Time: time.Now(), Run: "r", Stage: "s", Attempt: 2, Data: event.NewExecOutput("stdout", []byte(s))}
	}
	srv.Emit(out("before\n"))
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- Follow(context.Background(), tg, func(ev event.Event) { got <- ev.Data.(event.ExecOutput).Data })
	}()
	if s := <-got; s != "before\n" {
		t.Fatalf("history: %q", s)
	}
	srv.Emit(out("live\n"))
	if s := <-got; s != "live\n" {
		t.Fatalf("live: %q", s)
	}
	srv.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end with the attempt")
	}
	if _, err := os.Stat(tg.Socket()); !os.IsNotExist(err) {
		t.Errorf("socket left after Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tg.Dir, InfoName)); !os.IsNotExist(err) {
		t.Errorf("attach.json left after Close: %v", err)
	}
}

func TestShellRefusedByPolicy(t *testing.T) {
	_, tg := listen(t, Info{Run: "r", Stage: "agent", OwnerPID: os.Getpid(), Shell: false})
	_, err := Shell(context.Background(), tg, strings.NewReader(""), &strings.Builder{}, sandbox.TTY{})
	if err == nil || !strings.Contains(err.Error(), `stage "agent" does not allow a shell: set sandbox.attach_shell: true`) {
		t.Fatalf("shell on a stage without attach_shell: %v", err)
	}
}

func TestListSkipsGoneOwners(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "vm-x-1")
	os.Mkdir(dir, 0o700)
	// A pid that cannot be running: its owner died without cleaning up.
	os.WriteFile(filepath.Join(dir, InfoName), []byte(`{"run":"r","stage":"s","owner_pid":2147483646}`), 0o600)
	if got := List([]string{parent}); len(got) != 0 {
		t.Errorf("listed %v", got)
	}
	if _, err := Find(nil, "r", "s"); err == nil || !strings.Contains(err.Error(), "no running stage") {
		t.Errorf("Find: %v", err)
	}
}
