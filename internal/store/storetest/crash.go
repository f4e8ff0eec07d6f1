package storetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/store"
)

// crashEnv names the store URL a crash child opens.
const crashEnv = "VOIDBOX_STORETEST_CRASH_URL"

// crashState is what the child tells the parent before it is killed.
type crashState struct {
	Done, Running, Queued string
	DoneEvents            uint64
}

// HelperMain must be called first thing in the TestMain of a package that
// runs the suite: in the child process the crash test starts, it plays a
// daemon that is killed with SIGKILL in the middle of appending, and never
// returns.
func HelperMain() {
	url := os.Getenv(crashEnv)
	if url == "" {
		return
	}
	// crashChild appends until it is killed; it returns only on an error.
	fmt.Fprintln(os.Stderr, "crash child:", crashChild(url))
	os.Exit(2)
}

func crashChild(url string) error {
	ctx := context.Background()
	s, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	var st crashState
	done, _, err := s.CreateRun(ctx, store.NewRun{Name: "done", Kind: "pipeline", Spec: []byte("spec")})
	if err != nil {
		return err
	}
	st.Done = done.ID
	if _, err := s.UpdateRun(ctx, done.ID, store.RunUpdate{Status: store.RunRunning}); err != nil {
		return err
	}
	if st.DoneEvents, err = s.AppendEvents(ctx, done.ID, []store.Event{ev("d1"), ev("d2"), ev("d3")}); err != nil {
		return err
	}
	if err := s.SetStage(ctx, done.ID, store.Stage{Name: "a", Status: store.StageSucceeded}); err != nil {
		return err
	}
	if err := s.PutOutput(ctx, done.ID, "a", blob(store.InlineOutputMax+10, 9)); err != nil {
		return err
	}
	if err := s.PutOutput(ctx, done.ID, "b", []byte("small")); err != nil {
		return err
	}
	if _, err := s.UpdateRun(ctx, done.ID, store.RunUpdate{Status: store.RunSucceeded, Report: []byte(`{"ok":true}`)}); err != nil {
		return err
	}
	running, _, err := s.CreateRun(ctx, store.NewRun{Name: "running", Kind: "pipeline"})
	if err != nil {
		return err
	}
	st.Running = running.ID
	if _, err := s.UpdateRun(ctx, running.ID, store.RunUpdate{Status: store.RunRunning}); err != nil {
		return err
	}
	for _, name := range []string{"built", "building", "waiting"} {
		status := map[string]store.StageStatus{"built": store.StageSucceeded, "building": store.StageRunning, "waiting": store.StagePending}[name]
		if err := s.SetStage(ctx, running.ID, store.Stage{Name: name, Status: status}); err != nil {
			return err
		}
	}
	queued, _, err := s.CreateRun(ctx, store.NewRun{Name: "queued", Kind: "pipeline"})
	if err != nil {
		return err
	}
	st.Queued = queued.ID
	line, _ := json.Marshal(st)
	os.Stdout.Write(append(line, '\n'))
	// Append until killed, so the kill lands during writes.
	for i := 0; ; i++ {
		evs := []store.Event{ev(fmt.Sprint(i)), ev(fmt.Sprint(i)), ev(strings.Repeat("p", 3000))}
		if _, err := s.AppendEvents(ctx, running.ID, evs); err != nil {
			return err
		}
	}
}

func testCrash(t *testing.T, h Harness) {
	ctx, url := ctxT(t), h.NewURL(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lineCh := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		lineCh <- l
	}()
	var st crashState
	select {
	case l := <-lineCh:
		if err := json.Unmarshal([]byte(l), &st); err != nil {
			t.Fatalf("crash child said %q (%v); stderr: %s", l, err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("crash child never got ready; stderr: %s", stderr.String())
	}
	time.Sleep(300 * time.Millisecond) // let it append for a while
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	s := open(t, url)
	// Every id the child was given before it died is readable, contiguous.
	before := allEvents(t, ctx, s, st.Running, store.MaxPageSize)
	checkSeqs(t, before)
	if len(before) == 0 {
		t.Fatal("the crashed run has no events: the child was killed before appending")
	}
	recovered := must(s.RecoverAfterRestart(ctx, "daemon restarted"))(t)
	ids := map[string]bool{}
	for _, r := range recovered {
		ids[r.ID] = true
		if r.Status != store.RunFailed || r.Error != "daemon restarted" || r.Ended.IsZero() {
			t.Fatalf("recovered run %+v", r)
		}
	}
	if len(recovered) != 2 || !ids[st.Running] || !ids[st.Queued] {
		t.Fatalf("recovered %v, want %s and %s", ids, st.Running, st.Queued)
	}
	for _, id := range []string{st.Running, st.Queued} {
		r := must(s.GetRun(ctx, id))(t)
		if r.Status != store.RunFailed || r.Error != "daemon restarted" {
			t.Fatalf("after recovery, GetRun = %+v", r)
		}
		evs := allEvents(t, ctx, s, id, store.MaxPageSize)
		checkSeqs(t, evs)
		lastEv := evs[len(evs)-1]
		var fin struct {
			Type   string `json:"type"`
			Run    string `json:"run"`
			Fields struct {
				Status, Error string
			} `json:"fields"`
		}
		if err := json.Unmarshal(lastEv.Data, &fin); err != nil || lastEv.Type != "run.finished" ||
			fin.Type != "run.finished" || fin.Run != r.Name || fin.Fields.Status != "failed" || fin.Fields.Error != "daemon restarted" {
			t.Fatalf("last event of %s: %s %s (%v)", id, lastEv.Type, lastEv.Data, err)
		}
		if uint64(len(evs)) != r.LastSeq {
			t.Fatalf("LastSeq %d, %d events", r.LastSeq, len(evs))
		}
	}
	if got := allEvents(t, ctx, s, st.Running, 500); len(got) != len(before)+1 {
		t.Fatalf("recovery added %d events, want 1", len(got)-len(before))
	}
	stages := must(s.Stages(ctx, st.Running))(t)
	want := map[string]store.StageStatus{"built": store.StageSucceeded, "building": store.StageFailed, "waiting": store.StageFailed}
	for _, sg := range stages {
		if sg.Status != want[sg.Name] {
			t.Fatalf("stage %s after recovery: %s, want %s", sg.Name, sg.Status, want[sg.Name])
		}
	}
	// The finished run is intact.
	done := must(s.GetRun(ctx, st.Done))(t)
	if done.Status != store.RunSucceeded || string(done.Report) != `{"ok":true}` || string(done.Spec) != "spec" {
		t.Fatalf("finished run after crash: %+v", done)
	}
	if evs := allEvents(t, ctx, s, st.Done, 10); uint64(len(evs)) != st.DoneEvents || label(t, evs[2]) != "d3" {
		t.Fatalf("finished run has %d events, want %d", len(evs), st.DoneEvents)
	}
	if out := must(s.Output(ctx, st.Done, "a"))(t); !bytes.Equal(out, blob(store.InlineOutputMax+10, 9)) {
		t.Fatal("large output of the finished run changed")
	}
	if out := must(s.Output(ctx, st.Done, "b"))(t); string(out) != "small" {
		t.Fatalf("small output = %q", out)
	}
	// Recovery is done once: nothing is in flight any more.
	if again := must(s.RecoverAfterRestart(ctx, "again"))(t); len(again) != 0 {
		t.Fatalf("second recovery found %d runs", len(again))
	}
	_, err = s.AppendEvents(ctx, st.Running, []store.Event{ev("zombie")})
	wantErr(t, "append to a recovered run", err, store.ErrConflict)
}

// testRecoverFinishedStream: a run whose stream already ends with
// run.finished (its engine finished, or a recovery was cut short before the
// status changed) gets no second one.
func testRecoverFinishedStream(t *testing.T, h Harness) {
	ctx := ctxT(t)
	s := fresh(t, h)
	r := newRun(t, ctx, s, "half")
	must(s.UpdateRun(ctx, r.ID, store.RunUpdate{Status: store.RunRunning}))(t)
	fin := store.Event{Type: "run.finished", Data: []byte(`{"type":"run.finished","fields":{"status":"succeeded"}}`)}
	must(s.AppendEvents(ctx, r.ID, []store.Event{ev("x"), fin}))(t)
	got := must(s.RecoverAfterRestart(ctx, "daemon restarted"))(t)
	if len(got) != 1 || got[0].Status != store.RunFailed {
		t.Fatalf("recovered %+v", got)
	}
	evs := allEvents(t, ctx, s, r.ID, 10)
	if len(evs) != 2 || evs[1].Type != "run.finished" {
		t.Fatalf("after recovery the stream has %d events (last %s), want the 2 it had", len(evs), evs[len(evs)-1].Type)
	}
}
