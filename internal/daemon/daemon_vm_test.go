package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/client"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// specOf is a one-box pipeline running sh -c script.
func specOf(name, script string) string {
	return fmt.Sprintf("api_version: v1\nkind: pipeline\nname: %s\nsandbox: {memory_mb: 256}\npipeline:\n  boxes:\n    - name: main\n      exec: [sh, -c, %q]\n", name, script)
}

// waitEvent follows a run until an event of type typ, returning its id.
func waitEvent(t *testing.T, c *client.Client, id string, typ event.Type) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var seen uint64
	errFound := errors.New("found")
	err := c.Follow(ctx, id, 0, func(seq uint64, e event.Event) error {
		if e.Type() == typ {
			seen = seq
			return errFound
		}
		return nil
	})
	if !errors.Is(err, errFound) {
		t.Fatalf("run %s: no %s event: %v", id, typ, err)
	}
	return seen
}

// qemuChildren lists the QEMU processes whose parent is pid.
func qemuChildren(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(st)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "(qemu-system") {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// TestCancelStopsVMs: cancel answers once the run's VM is gone.
func TestCancelStopsVMs(t *testing.T) {
	vmtest.Setup(t)
	s := serveTest(t, Config{MaxVMs: 2}, "")
	ctx := ctxT(t, 3*time.Minute)
	run, err := s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("sleeper", "echo up; sleep 300")}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s.c, run.ID, event.TypeExecOutput)
	if n := s.d.VMs(); n != 1 {
		t.Fatalf("%d VMs while the run sleeps, want 1", n)
	}
	if len(qemuChildren(t, os.Getpid())) != 1 {
		t.Fatalf("QEMU children before cancel: %v", qemuChildren(t, os.Getpid()))
	}
	start := time.Now()
	got, err := s.c.CancelRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "cancelled" || got.Error != errCancelled.Error() {
		t.Fatalf("after cancel: %s %q", got.Status, got.Error)
	}
	if n := s.d.VMs(); n != 0 {
		t.Fatalf("%d VMs when cancel returned", n)
	}
	if q := qemuChildren(t, os.Getpid()); len(q) != 0 {
		t.Fatalf("QEMU still running when cancel returned: %v", q)
	}
	t.Logf("cancel took %v", time.Since(start))
	evs, err := s.c.EventPage(ctx, run.ID, 0, 1000, "")
	if err != nil || !evs.Done {
		t.Fatalf("events: %v done=%v", err, evs.Done)
	}
	last, _ := event.Decode(evs.Events[len(evs.Events)-1].Event)
	if fin, ok := last.Data.(event.RunFinished); !ok || fin.Status != "cancelled" {
		t.Fatalf("last event %+v", last)
	}
	if len(got.Stages) != 1 || got.Stages[0].Status != "cancelled" {
		t.Fatalf("stages %+v", got.Stages)
	}
	// Cancelling again changes nothing; deleting works once it ended.
	if again, err := s.c.CancelRun(ctx, run.ID); err != nil || again.Status != "cancelled" {
		t.Fatalf("second cancel: %+v %v", again, err)
	}
	if err := s.c.DeleteRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.GetRun(ctx, run.ID); !client.IsNotFound(err) {
		t.Fatalf("deleted run: %v", err)
	}
}

// sseRead reads raw SSE from the daemon until n events or the end; it
// returns the ids and data.
func sseRead(t *testing.T, s *served, id string, lastID string, n int) (ids []uint64, datas []string, ended bool) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (netConn, error) {
		return dialUnix(ctx, s.socket)
	}}}
	req, _ := http.NewRequest("GET", "http://voidbox/v1/runs/"+id+"/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() // a disconnect in the middle of the stream
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var cur string
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "id: "):
			v, _ := strconv.ParseUint(l[4:], 10, 64)
			ids = append(ids, v)
		case strings.HasPrefix(l, "data: "):
			cur = l[6:]
		case l == "" && cur != "":
			datas = append(datas, cur)
			cur = ""
			if n > 0 && len(datas) == n {
				return ids, datas, false
			}
		}
	}
	return ids, datas, true
}

// TestSSEResume: a client that disconnects and resumes with Last-Event-ID
// gets every event once, the same as the JSON pages list.
func TestSSEResume(t *testing.T) {
	vmtest.Setup(t)
	s := serveTest(t, Config{MaxVMs: 1}, "")
	ctx := ctxT(t, 3*time.Minute)
	run, err := s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("lines", "i=0; while [ $i -lt 40 ]; do echo line $i; i=$((i+1)); sleep 0.05; done")}, "")
	if err != nil {
		t.Fatal(err)
	}
	var all []uint64
	var datas []string
	last := ""
	for round := 0; ; round++ {
		ids, ds, ended := sseRead(t, s, run.ID, last, 7)
		all, datas = append(all, ids...), append(datas, ds...)
		if len(ids) > 0 {
			last = strconv.FormatUint(ids[len(ids)-1], 10)
		}
		if ended {
			break
		}
		if round > 500 {
			t.Fatal("stream never ended")
		}
	}
	for i, id := range all {
		if id != uint64(i+1) {
			t.Fatalf("event %d has id %d: lost or duplicated (ids %v)", i, id, all)
		}
	}
	page, err := s.c.EventPage(ctx, run.ID, 0, 1000, "")
	if err != nil || !page.Done || len(page.Events) != len(all) {
		t.Fatalf("JSON page: %d events (done %v, %v), SSE %d", len(page.Events), page.Done, err, len(all))
	}
	for i, e := range page.Events {
		if string(e.Event) != datas[i] {
			t.Fatalf("event %d: SSE data %s, page %s", i+1, datas[i], e.Event)
		}
		if _, err := event.Decode(e.Event); err != nil {
			t.Fatalf("event %d does not decode: %v", i+1, err)
		}
	}
	var out bytes.Buffer
	for _, d := range datas {
		if e, _ := event.Decode([]byte(d)); e.Type() == event.TypeExecOutput {
			out.WriteString(e.Data.(event.ExecOutput).Data)
		}
	}
	if !strings.Contains(out.String(), "line 0\n") || !strings.Contains(out.String(), "line 39\n") {
		t.Fatalf("output through the events: %q", out.String())
	}
	r, _ := s.c.GetRun(ctx, run.ID)
	if r.Status != "succeeded" || r.LastEventID != uint64(len(all)) {
		t.Fatalf("run %+v", r)
	}
	o, err := s.c.Output(ctx, run.ID, "main")
	if err != nil || !strings.HasPrefix(string(o), "line 0\n") {
		t.Fatalf("output %q %v", o, err)
	}
}

// TestQueueLimits: with one VM and one queue place, a third run is
// refused with 429; the queued one runs after the first; an idempotent
// retry returns the same run.
func TestQueueLimits(t *testing.T) {
	vmtest.Setup(t)
	s := serveTest(t, Config{MaxVMs: 1, MaxQueued: 1}, "")
	ctx := ctxT(t, 3*time.Minute)
	first, err := s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("first", "sleep 2")}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("first", "sleep 2")}, "k1")
	if err != nil || again.ID != first.ID {
		t.Fatalf("idempotent retry: %+v %v", again, err)
	}
	_, err = s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("other", "true")}, "k1")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusConflict {
		t.Fatalf("key reused for another run: %v", err)
	}
	second, err := s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("second", "echo two")}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.c.CreateRun(ctx, apiv1.CreateRun{Spec: specOf("third", "true")}, "")
	if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests || ce.Code != apiv1.CodeLimit || !strings.Contains(ce.Message, "queued") {
		t.Fatalf("third run: %v, want 429 limit_reached", err)
	}
	if err := s.c.Follow(ctx, second.ID, 0, func(uint64, event.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	r1, _ := s.c.GetRun(ctx, first.ID)
	r2, _ := s.c.GetRun(ctx, second.ID)
	if r1.Status != "succeeded" || r2.Status != "succeeded" || !r2.StartedAt.After(r1.FinishedAt.Add(-time.Millisecond)) {
		t.Fatalf("first %s %v–%v, second %s from %v", r1.Status, r1.StartedAt, r1.FinishedAt, r2.Status, r2.StartedAt)
	}
	l, err := s.c.ListRuns(ctx, client.ListOptions{Status: []string{"succeeded"}, Limit: 1})
	if err != nil || len(l.Runs) != 1 || l.Runs[0].ID != second.ID || l.Next == "" {
		t.Fatalf("list: %+v %v", l, err)
	}
}

// TestSandboxAPI: create, exec with streamed output, files, close, and the
// idle reaper.
func TestSandboxAPI(t *testing.T) {
	vmtest.Setup(t)
	s := serveTest(t, Config{MaxVMs: 1, SandboxIdle: time.Minute}, "")
	ctx := ctxT(t, 3*time.Minute)
	sb, err := s.c.CreateSandbox(ctx, apiv1.CreateSandbox{Name: "dev", Policy: json.RawMessage(`{"memory_mb":256,"allowed_commands":["sh","cat","echo"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.c.CreateSandbox(ctx, apiv1.CreateSandbox{})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests {
		t.Fatalf("second sandbox with one VM slot: %v, want 429", err)
	}
	if err := s.c.WriteFile(ctx, sb.ID, "/workspace/in.txt", []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	res, err := s.c.Exec(ctx, sb.ID, apiv1.Exec{Args: []string{"sh", "-c", "cat /workspace/in.txt; echo oops >&2; echo done > /workspace/out.txt; exit 3"}}, &stdout, &stderr)
	if err != nil || res.ExitCode != 3 || stdout.String() != "hello\n" || stderr.String() != "oops\n" {
		t.Fatalf("exec: %+v %v stdout %q stderr %q", res, err, stdout.String(), stderr.String())
	}
	res, err = s.c.Exec(ctx, sb.ID, apiv1.Exec{Args: []string{"uname"}}, nil, nil)
	if err != nil || res.ExitCode != 126 {
		t.Fatalf("a command outside the allowlist: %+v %v", res, err)
	}
	if b, err := s.c.ReadFile(ctx, sb.ID, "/workspace/out.txt"); err != nil || string(b) != "done\n" {
		t.Fatalf("read: %q %v", b, err)
	}
	if _, err := s.c.ReadFile(ctx, sb.ID, "/workspace/none"); !client.IsNotFound(err) {
		t.Fatalf("missing file: %v", err)
	}
	if err := s.c.CloseSandbox(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if n := s.d.VMs(); n != 0 {
		t.Fatalf("%d VMs after close", n)
	}
	// Forgotten: reaped after its idle timeout.
	sb, err = s.c.CreateSandbox(ctx, apiv1.CreateSandbox{IdleTimeout: "2s", Policy: json.RawMessage(`{"memory_mb":256}`)})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.d.VMs() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle sandbox not reaped")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if l, _ := s.c.ListSandboxes(ctx); len(l) != 0 {
		t.Fatalf("sandboxes after the reaper: %+v", l)
	}
	if stored, _ := s.st.ListSandboxes(ctx); len(stored) != 0 {
		t.Fatalf("store still lists %d sandboxes", len(stored))
	}
}
