package daemon

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/client"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/store"
	"github.com/voidbox/voidbox/internal/store/storetest"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// crashEnv carries "SOCKET STORE-URL" to a daemon child of the kill test.
const crashEnv = "VOIDBOX_DAEMONTEST_SERVE"

// crashChildMain serves a daemon until it is killed, when this test binary
// was started as the kill test's child.
func crashChildMain() {
	v := os.Getenv(crashEnv)
	if v == "" {
		return
	}
	sock, url, _ := strings.Cut(v, " ")
	err := func() error {
		ctx := context.Background()
		st, err := store.Open(ctx, url)
		if err != nil {
			return err
		}
		d, err := New(ctx, Config{Store: st, MaxVMs: 2})
		if err != nil {
			return err
		}
		srv, err := apiserver.New(ctx, apiserver.Config{Handler: d, Socket: sock})
		if err != nil {
			return err
		}
		fmt.Println("serving")
		return srv.Serve(ctx)
	}()
	fmt.Fprintln(os.Stderr, "daemon child:", err)
	os.Exit(2)
}

// startChild starts a daemon process on url and waits until it serves.
func startChild(t *testing.T, sock, url string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+sock+" "+url)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() { l, _ := bufio.NewReader(out).ReadString('\n'); ready <- l }()
	select {
	case l := <-ready:
		if l != "serving\n" {
			t.Fatalf("daemon child said %q", l)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("daemon child did not start serving")
	}
	return cmd
}

// TestKillDuringRun, on every store: kill -9 the daemon while a run's VM
// runs; its QEMU dies with it; a new daemon fails the run with "daemon
// restarted" and the run that had finished is intact.
func TestKillDuringRun(t *testing.T) {
	vmtest.Setup(t)
	redis := storetest.StartRedis(t)
	for _, kind := range []string{"sqlite", "fs", "valkey"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			url := map[string]string{
				"sqlite": "sqlite:" + filepath.Join(dir, "state.db"),
				"fs":     "fs:" + filepath.Join(dir, "state"),
				"valkey": fmt.Sprintf("valkey://%s/0?prefix=kill-%d&data=%s", redis, time.Now().UnixNano(), filepath.Join(dir, "blobs")),
			}[kind]
			killDuringRun(t, dir, url)
		})
	}
}

func killDuringRun(t *testing.T, dir, url string) {
	ctx := ctxT(t, 4*time.Minute)
	sock := filepath.Join(dir, "s", "voidbox.sock")
	child := startChild(t, sock, url)
	c, err := client.New("unix://"+sock, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("done", "echo finished")}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Follow(ctx, done.ID, 0, func(uint64, event.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	before, err := c.EventPage(ctx, done.ID, 0, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	live, err := c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("live", "echo up; sleep 300")}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, c, live.ID, event.TypeExecOutput)
	qemus := qemuChildren(t, child.Process.Pid)
	if len(qemus) != 1 {
		t.Fatalf("the daemon runs QEMU %v, want one", qemus)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	// PR_SET_PDEATHSIG: the kernel kills QEMU when the daemon dies.
	deadline := time.Now().Add(10 * time.Second)
	for !gone(qemus[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("QEMU %d survived the daemon's kill -9", qemus[0])
		}
		time.Sleep(50 * time.Millisecond)
	}

	child = startChild(t, sock, url)
	r, err := c.GetRun(ctx, live.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "failed" || r.Error != RestartReason || len(r.Stages) != 1 || r.Stages[0].Status != "failed" {
		t.Fatalf("run in flight after the restart: %+v", r)
	}
	page, err := c.EventPage(ctx, live.ID, 0, 1000, "")
	if err != nil || !page.Done {
		t.Fatalf("its events: %v done=%v", err, page.Done)
	}
	last, err := event.Decode(page.Events[len(page.Events)-1].Event)
	if fin, ok := last.Data.(event.RunFinished); err != nil || !ok || fin.Status != "failed" || fin.Error != RestartReason {
		t.Fatalf("its last event: %+v %v", last, err)
	}
	d, err := c.GetRun(ctx, done.ID)
	if err != nil || d.Status != "succeeded" || len(d.Report) == 0 {
		t.Fatalf("the finished run after the restart: %+v %v", d, err)
	}
	after, err := c.EventPage(ctx, done.ID, 0, 1000, "")
	if err != nil || len(after.Events) != len(before.Events) || string(after.Events[0].Event) != string(before.Events[0].Event) {
		t.Fatalf("its events changed: %d then %d (%v)", len(before.Events), len(after.Events), err)
	}
	if o, err := c.Output(ctx, done.ID, "main"); err != nil || string(o) != "finished\n" {
		t.Fatalf("its output: %q %v", o, err)
	}
	// The new daemon works.
	again, err := c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("again", "true")}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Follow(ctx, again.ID, 0, func(uint64, event.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
}

// gone: the process exited (or is a zombie waiting for its new parent).
func gone(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(st)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}
