package sandbox

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// bootWallFactor caps a boot's wall time at this many boot timeouts, however
// starved the guest was: a guest that got less than a fifth of a core for
// that long is, to the person waiting, as good as stuck.
const bootWallFactor = 5

// bootDeadline is the boot timeout as the guest experiences it. The clock
// starts at admission (time spent queued for a slot is not boot time) and
// runs while the guest either runs or does not want to: time a thread of
// its QEMU process spent runnable but waiting for a host CPU
// (/proc/PID/task/*/schedstat) is taken off. So a guest that is merely
// slow on a loaded host is not killed, while a guest that is stuck is,
// whichever way it is stuck: spinning (it runs, so the clock runs) or
// halted (it does not want the CPU, so nothing is taken off). Wall time is
// still capped at bootWallFactor × timeout.
//
// A slow-but-working guest cannot be told from a stuck one by its console
// (the guest init prints nothing until it fails), and CPU time alone would
// let a halted guest wait for ever; starvation is what a loaded host adds,
// so that is what is subtracted.
type bootDeadline struct {
	cancel context.CancelCauseFunc
	stop   chan struct{}
	wg     sync.WaitGroup
}

// watchBoot returns ctx bounded by the boot deadline of QEMU process pid
// (pid ≤ 0: plain wall time) and a stop function that ends the watch and
// waits for it.
func watchBoot(ctx context.Context, pid int, timeout time.Duration, start time.Time) (context.Context, func()) {
	bctx, cancel := context.WithCancelCause(ctx)
	d := &bootDeadline{cancel: cancel, stop: make(chan struct{})}
	d.wg.Go(func() { d.run(pid, timeout, start) })
	return bctx, func() {
		close(d.stop)
		d.wg.Wait()
		cancel(nil)
	}
}

func (d *bootDeadline) run(pid int, timeout time.Duration, start time.Time) {
	t := time.NewTicker(min(250*time.Millisecond, timeout/4))
	defer t.Stop()
	// QEMU started after start, so every count of its threads is boot time.
	prev := map[string]time.Duration{}
	last := start
	var boot, starved time.Duration
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		step := now.Sub(last)
		last = now
		// Of this step, the part some thread of QEMU was runnable but not
		// running is the host's doing. Threads waiting at the same time
		// would count twice: no more than the step is taken off.
		var waited time.Duration
		if waits, ok := threadWaits(pid); ok {
			for tid, w := range waits {
				waited += max(w-prev[tid], 0)
			}
			prev = waits
		}
		waited = min(waited, step)
		boot += step - waited
		starved += waited
		wall := now.Sub(start)
		if boot >= timeout || wall >= bootWallFactor*timeout {
			detail := ""
			if starved >= time.Second {
				detail = fmt.Sprintf(" (%v wall, %v of it waiting for a host CPU)", wall.Round(100*time.Millisecond), starved.Round(100*time.Millisecond))
			}
			d.cancel(fmt.Errorf("the guest init did not answer within %v%s", timeout, detail))
			return
		}
	}
}
