package escape_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/stage"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// bootRecorder boots sandboxes for stage.Run and keeps them by VM name, so
// that a test can reach a stage's VM (as root) while the stage runs.
type bootRecorder struct {
	mu  sync.Mutex
	vms map[string]*sandbox.Sandbox // guarded by mu
}

func (b *bootRecorder) boot(ctx context.Context, cfg sandbox.Config) (*sandbox.Sandbox, error) {
	sb, err := sandbox.Boot(ctx, cfg)
	if err == nil {
		b.mu.Lock()
		if b.vms == nil {
			b.vms = map[string]*sandbox.Sandbox{}
		}
		b.vms[cfg.Name] = sb
		b.mu.Unlock()
	}
	return sb, err
}

// of is the sandbox booted under a name that contains name.
func (b *bootRecorder) of(name string) *sandbox.Sandbox {
	b.mu.Lock()
	defer b.mu.Unlock()
	for n, sb := range b.vms {
		if strings.Contains(n, name) {
			return sb
		}
	}
	return nil
}

// guestClock is the guest's wall clock (seconds since the epoch), read as root.
func guestClock(ctx context.Context, sb *sandbox.Sandbox) (int64, error) {
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"date", "+%s"}, As: sandbox.AsRoot, Timeout: 30 * time.Second})
	if err != nil {
		return 0, err
	}
	if res.ExitCode != 0 {
		return 0, fmt.Errorf("date: exit %d: %s", res.ExitCode, res.Stderr)
	}
	return strconv.ParseInt(strings.TrimSpace(string(res.Stdout)), 10, 64)
}

// jumpClock sets the guest's wall clock to at (root, date -s), checks that
// it took, and that the control channel still answers.
func jumpClock(ctx context.Context, sb *sandbox.Sandbox, at time.Time) error {
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"date", "-s", "@" + strconv.FormatInt(at.Unix(), 10)}, As: sandbox.AsRoot, Timeout: 30 * time.Second})
	if err != nil {
		return fmt.Errorf("date -s: %w", err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("date -s: exit %d: %s", res.ExitCode, res.Stderr)
	}
	now, err := guestClock(ctx, sb)
	if err != nil {
		return err
	}
	// The clock runs on between the two commands: a minute of slack.
	if d := now - at.Unix(); d < 0 || d > 60 {
		return fmt.Errorf("the guest clock reads %d after being set to %d", now, at.Unix())
	}
	if err := sb.Ping(ctx); err != nil {
		return fmt.Errorf("ping after the jump: %w", err)
	}
	return nil
}

// TestGuestClockJumpVM: root in the guest sets its wall clock ten years
// forward and then to 2001 while stages run. The command's timeout (kept by
// the guest on its monotonic clock) and the attempt's timeout (kept by the
// host) both still end their stage, the control channel keeps answering,
// and the durations and event times the host reports stay those of the
// host's clock. Nothing is left.
func TestGuestClockJumpVM(t *testing.T) {
	root := privateRuntime(t)
	r := vmtest.Setup(t)
	before := snapshot(root)

	// The attempt's timeout counts the boot, which on a loaded TCG host took
	// over 20 s once: the command must have started for the jump to be made.
	const cmdTimeout, attemptTimeout = 6 * time.Second, 45 * time.Second
	guestTimed := &stage.Box{Name: "guest-timed", Exec: []string{"sh", "-c", "echo started; sleep 300"},
		Policy: policy.Sandbox{MemoryMiB: 256, Timeout: cmdTimeout}}
	// No command timeout: only the host's attempt deadline ends this one.
	hostTimed := &stage.Box{Name: "host-timed", Exec: []string{"sh", "-c", "echo started; sleep 300"},
		Timeout: attemptTimeout, Policy: policy.Sandbox{MemoryMiB: 256}}

	rec := &bootRecorder{}
	var mu sync.Mutex
	var events []event.Event
	var jumps sync.WaitGroup
	jumpErrs := make(chan error, 2)
	sink := event.SinkFunc(func(e event.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		if d, ok := e.Data.(event.ExecOutput); ok && strings.Contains(d.Data, "started") {
			sb := rec.of(e.Stage)
			if sb == nil {
				jumpErrs <- fmt.Errorf("no VM recorded for stage %s", e.Stage)
				return
			}
			// The sink runs on the output path: the jumps, which use the
			// same control channel, run beside it.
			jumps.Add(1)
			go func() {
				defer jumps.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				err := jumpClock(ctx, sb, time.Now().AddDate(10, 0, 0))
				if err == nil {
					err = jumpClock(ctx, sb, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
				}
				if err != nil {
					err = fmt.Errorf("stage %s: %w", e.Stage, err)
				}
				jumpErrs <- err
			}()
		}
	})
	b := pipeline.NewPipeline("clock-jump")
	b.FanOut(guestTimed.Node(), hostTimed.Node())
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	host := stage.Host{Sandbox: vmtest.Host(t), Kernel: r.Kernel, Initramfs: r.Initramfs}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	rep, err := stage.Run(ctx, g, map[string]stage.Staged{guestTimed.Name: {Box: guestTimed}, hostTimed.Name: {Box: hostTimed}},
		host, stage.Options{Boot: stage.BootFunc(rec.boot), Events: sink, OutputsDir: t.TempDir()})
	took := time.Since(start)
	jumps.Wait()
	close(jumpErrs)
	n := 0
	for err := range jumpErrs {
		n++
		if err != nil {
			t.Error(err)
		}
	}
	if n != 2 {
		t.Fatalf("%d clock jumps ran, want one per stage (a stage whose command never started?): run error %v", n, err)
	}
	if err == nil || ctx.Err() != nil {
		t.Fatalf("the run: %v (ctx %v); both stages should have timed out", err, ctx.Err())
	}
	for _, c := range []struct {
		name, reason string
		bound        time.Duration
	}{{guestTimed.Name, "command timed out", cmdTimeout}, {hostTimed.Name, "timed out after 45s", attemptTimeout}} {
		st := rep.Stage(c.name)
		if st == nil || st.Status != pipeline.StatusFailed || !strings.Contains(st.Error, c.reason) {
			t.Errorf("stage %s: %+v, want failed with %q", c.name, st, c.reason)
			continue
		}
		// Host-clock durations: at least the timeout, and no more than the
		// whole run took (a guest clock leaking in would be years off).
		if st.Duration < c.bound || st.Duration > took {
			t.Errorf("stage %s took %v by its report (timeout %v, run %v)", c.name, st.Duration, c.bound, took)
		}
		t.Logf("stage %s: %s after %v", c.name, st.Error, st.Duration.Round(time.Millisecond))
		if d, ok := st.Detail.(*stage.Detail); ok && c.name == guestTimed.Name {
			// The guest measures the command on its monotonic clock.
			if exec := time.Duration(d.ExecMS * float64(time.Millisecond)); exec < cmdTimeout || exec > took {
				t.Errorf("the guest reported the command ran %v (timeout %v, run %v)", exec, cmdTimeout, took)
			}
		}
	}
	mu.Lock()
	// Stamped by the host: inside the run, whatever the guests' clocks said.
	for i, e := range events {
		if e.Time.Before(start) || e.Time.After(start.Add(took)) {
			t.Errorf("event %d (%s) at %v, run from %v for %v", i, e.Type(), e.Time, start, took)
		}
	}
	mu.Unlock()
	assertNoLeak(t, root, before)
}
