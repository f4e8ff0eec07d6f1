package escape_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/stage"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestKillQEMUMidStageVM: QEMU killed with SIGKILL while a command stage
// runs fails that attempt with the reason, the retry policy boots a fresh
// VM that finishes the stage, and nothing of either VM is left.
func TestKillQEMUMidStageVM(t *testing.T) {
	root := privateRuntime(t)
	r := vmtest.Setup(t)
	before := snapshot(root)

	var mu sync.Mutex
	var pids []int // QEMU of each attempt, in boot order
	boot := stage.BootFunc(func(ctx context.Context, cfg sandbox.Config) (*sandbox.Sandbox, error) {
		sb, err := sandbox.Boot(ctx, cfg)
		if err == nil {
			mu.Lock()
			pids = append(pids, sb.Info().QEMUPID)
			mu.Unlock()
		}
		return sb, err
	})
	var killed atomic.Bool
	var retrying []string
	sink := event.SinkFunc(func(e event.Event) {
		switch d := e.Data.(type) {
		case event.ExecOutput:
			if e.Attempt == 1 && strings.Contains(d.Data, "started") && !killed.Swap(true) {
				mu.Lock()
				pid := pids[0]
				mu.Unlock()
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Errorf("killing qemu %d: %v", pid, err)
				}
			}
		case event.StageRetrying:
			retrying = append(retrying, d.Error)
		}
	})
	box := &stage.Box{Name: "victim", Retries: 1, Backoff: 100 * time.Millisecond,
		Exec:   []string{"sh", "-c", "echo started; sleep 3; echo finished"},
		Policy: policy.Sandbox{MemoryMiB: 256}}
	b := pipeline.NewPipeline("kill-qemu")
	b.Pipe(box.Node())
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	host := stage.Host{Sandbox: vmtest.Host(t), Kernel: r.Kernel, Initramfs: r.Initramfs}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := stage.Run(ctx, g, map[string]stage.Staged{box.Name: {Box: box}}, host, stage.Options{Boot: boot, Events: sink, OutputsDir: t.TempDir()})
	if err != nil {
		t.Fatalf("the retry did not save the stage: %v (report %+v)", err, rep)
	}
	st := rep.Stages[0]
	if !killed.Load() || st.Status != pipeline.StatusSucceeded || st.Attempts != 2 {
		t.Fatalf("killed %v, stage %s after %d attempts (%s)", killed.Load(), st.Status, st.Attempts, st.Error)
	}
	// The first attempt's failure names what happened to the VM.
	if len(retrying) != 1 || !strings.Contains(retrying[0], "vm is gone") || !strings.Contains(retrying[0], "kill") {
		t.Errorf("retry reasons: %q", retrying)
	}
	t.Logf("first attempt: %s", retrying)
	if syscall.Kill(pids[0], 0) == nil {
		t.Errorf("qemu %d of the killed attempt still exists", pids[0])
	}
	assertNoLeak(t, root, before)
}

// hostLatency runs the host's true(1) every 100 ms until stop is closed and
// returns how long each took: the host must stay responsive while a guest
// misbehaves.
func hostLatency(stop <-chan struct{}) []time.Duration {
	var out []time.Duration
	for {
		select {
		case <-stop:
			return out
		case <-time.After(100 * time.Millisecond):
		}
		start := time.Now()
		if err := exec.Command("true").Run(); err != nil {
			out = append(out, time.Hour) // counted as unresponsive
			continue
		}
		out = append(out, time.Since(start))
	}
}

// latencyBound is what a host `true` may take while a guest misbehaves.
// Loose on purpose: the cores are shared with other work; a host taken over
// by a VM would take seconds, a healthy one takes milliseconds.
const latencyBound = 2 * time.Second

func checkLatency(t *testing.T, lat []time.Duration) {
	t.Helper()
	if len(lat) == 0 {
		t.Fatal("no host latency sample")
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	p50, worst := s[len(s)/2], s[len(s)-1]
	t.Logf("host true: %d runs, p50 %v, max %v", len(s), p50.Round(time.Microsecond), worst.Round(time.Microsecond))
	if worst > latencyBound {
		t.Errorf("host true took %v (bound %v)", worst, latencyBound)
	}
}

// rssKiB is the test process's resident memory.
func rssKiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}

// TestForkBombVM: a fork bomb of the sandbox user is held by the process
// limit, cannot starve the guest init (its cgroup's CPU weight is low), and
// is ended at the command's time limit — its whole cgroup killed, whether
// the bomb's top shell is still waiting then or already exited and left the
// bomb running in the background. The host stays responsive, the VM serves
// again, nothing is left.
func TestForkBombVM(t *testing.T) {
	root := privateRuntime(t)
	r := vmtest.Setup(t)
	before := snapshot(root)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := sandbox.Boot(ctx, vmtest.Host(t).Config("forkbomb", policy.Sandbox{MemoryMiB: 256}, r.Kernel, r.Initramfs))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	lat := make(chan []time.Duration)
	go func() { lat <- hostLatency(stop) }()
	const limit = 8 * time.Second
	start := time.Now()
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "b() { b | b & }; b; wait"}, Timeout: limit})
	if err != nil {
		close(stop)
		<-lat
		t.Fatalf("the fork bomb's exec: %v", err)
	}
	t.Logf("the bomb's top shell ended after %v: exit %d %s", time.Since(start).Round(time.Millisecond), res.ExitCode, res.Reason())
	if !res.TimedOut && res.ExitCode != 0 {
		t.Errorf("want a timeout or the top shell's own exit, got exit %d (%s)", res.ExitCode, res.Reason())
	}
	// Past the limit, whatever the bomb left in the background is killed
	// (dying takes the guest a moment: a few hundred processes exit under
	// TCG) and the VM serves again.
	time.Sleep(time.Until(start.Add(limit)))
	var left int
	for {
		after, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "echo ok; ps -o user | grep -c '^sandbox' || true"}, Timeout: 30 * time.Second})
		if err == nil && after.ExitCode == 126 && strings.Contains(after.Error, "resource temporarily unavailable") {
			// The bomb still holds the sandbox user's process limit: a
			// clear refusal, not a hang. Ask again once it is dead.
			left = -1
		} else if err != nil || !strings.HasPrefix(string(after.Stdout), "ok\n") {
			close(stop)
			<-lat
			t.Fatalf("the VM does not serve after the bomb: %v %+v", err, after)
		} else {
			// What is left of the sandbox user is this very shell, its ps
			// and its grep once the bomb's processes died with their cgroup.
			left, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(after.Stdout), "ok\n")))
		}
		if (left >= 0 && left <= 3) || time.Since(start) > limit+time.Minute {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	checkLatency(t, <-lat)
	t.Logf("the bomb was gone %v after its time limit", (time.Since(start) - limit).Round(100*time.Millisecond))
	if left < 0 || left > 3 {
		t.Errorf("%d processes of the sandbox user a minute past the bomb's time limit", left)
	}
	if err := sb.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	assertNoLeak(t, root, before)
}

// countWriter counts the bytes written and keeps none.
type countWriter struct{ n atomic.Int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// TestOutputFloodVM: a command writing as fast as it can on both streams
// for several seconds is paced by the channel: the host stays responsive,
// the test process's memory stays bounded whether the output is streamed or
// captured (up to the cap), and nothing is left.
func TestOutputFloodVM(t *testing.T) {
	root := privateRuntime(t)
	r := vmtest.Setup(t)
	before := snapshot(root)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const capBytes = 1 << 20
	sb, err := sandbox.Boot(ctx, vmtest.Host(t).Config("flood", policy.Sandbox{MemoryMiB: 256, OutputLimit: capBytes}, r.Kernel, r.Initramfs))
	if err != nil {
		t.Fatal(err)
	}
	rss0 := rssKiB()
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // samples the test process's RSS until stop
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if n := int64(rssKiB()); n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()
	lat := make(chan []time.Duration)
	go func() { lat <- hostLatency(stop) }()

	flood := []string{"sh", "-c", "yes voidbox-flood-line & yes voidbox-flood-err >&2 & wait"}
	var out, errOut countWriter
	streamed, err := sb.Exec(ctx, sandbox.Cmd{Args: flood, Stdout: &out, Stderr: &errOut, Timeout: 6 * time.Second})
	if err != nil {
		t.Fatalf("streamed flood: %v", err)
	}
	// Captured: a fixed amount, three times the cap on each stream, so the
	// cap is reached however slowly a loaded host runs the guest.
	capturedFlood := []string{"sh", "-c", fmt.Sprintf("yes voidbox-flood-line | head -c %d & yes voidbox-flood-err | head -c %[1]d >&2 & wait", 3*capBytes)}
	captured, err := sb.Exec(ctx, sandbox.Cmd{Args: capturedFlood, Timeout: 90 * time.Second})
	close(stop)
	wg.Wait()
	checkLatency(t, <-lat)
	if err != nil {
		t.Fatalf("captured flood: %v", err)
	}
	t.Logf("streamed: %d + %d bytes in 6 s (%s); captured: %d + %d kept, %d + %d dropped (%s, exit %d)",
		out.n.Load(), errOut.n.Load(), streamed.Reason(), len(captured.Stdout), len(captured.Stderr),
		captured.StdoutDropped, captured.StderrDropped, captured.Reason(), captured.ExitCode)
	growth := (peak.Load() - int64(rss0)) / 1024
	t.Logf("test process RSS: %d MiB before, peak %d MiB (+%d MiB)", rss0/1024, peak.Load()/1024, growth)
	if out.n.Load() < capBytes || errOut.n.Load() < capBytes {
		t.Errorf("the flood was not streamed: %d / %d bytes", out.n.Load(), errOut.n.Load())
	}
	if len(captured.Stdout) != capBytes || len(captured.Stderr) != capBytes ||
		captured.StdoutDropped != 2*capBytes || captured.StderrDropped != 2*capBytes {
		t.Errorf("captured output not held to the cap: %d / %d bytes kept, %d / %d dropped", len(captured.Stdout), len(captured.Stderr), captured.StdoutDropped, captured.StderrDropped)
	}
	// Two captured streams of 1 MiB plus yamux windows and the runtime's
	// slack; a flood that reached host memory would be hundreds of MiB.
	if growth > 96 {
		t.Errorf("the test process grew by %d MiB during the flood", growth)
	}
	if res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"echo", "ok"}}); err != nil || string(res.Stdout) != "ok\n" {
		t.Fatalf("the VM does not serve after the flood: %v %+v", err, res)
	}
	if err := sb.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	assertNoLeak(t, root, before)
}

var _ io.Writer = (*countWriter)(nil)

// TestGuestHogsVM: the sandbox user filling /tmp and then the memory left
// gets ENOSPC and an out-of-memory kill inside its budgets; a host `true`
// stays fast throughout, the VM serves again, nothing is left.
// (TestDiskBudgetVM checks the budgets themselves; this adds the host.)
func TestGuestHogsVM(t *testing.T) {
	root := privateRuntime(t)
	r := vmtest.Setup(t)
	before := snapshot(root)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := sandbox.Boot(ctx, vmtest.Host(t).Config("hogs", policy.Sandbox{MemoryMiB: 256}, r.Kernel, r.Initramfs))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	lat := make(chan []time.Duration)
	go func() { lat <- hostLatency(stop) }()
	fill, ferr := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "dd if=/dev/zero of=/tmp/fill bs=1M count=1000"}, Timeout: time.Minute})
	hog, herr := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", `awk 'BEGIN { s = "x"; while (1) s = s s }'`}, Timeout: time.Minute})
	close(stop)
	checkLatency(t, <-lat)
	if ferr != nil || fill.ExitCode == 0 || !strings.Contains(string(fill.Stderr), "No space left on device") {
		t.Errorf("filling /tmp: %v, %+v", ferr, fill)
	}
	if herr != nil || !hog.OOMKilled || hog.Reason() != "killed: out of memory" {
		t.Errorf("memory hog: %v, %+v", herr, hog)
	}
	if res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"echo", "ok"}}); err != nil || string(res.Stdout) != "ok\n" {
		t.Fatalf("the VM does not serve after the hogs: %v %+v", err, res)
	}
	if err := sb.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	assertNoLeak(t, root, before)
}
