package stage

import (
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/procstat"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// statsInterval is how often a running VM is sampled for vm.stats: often
// enough for a live view, rare enough that a five-VM fan-out adds five
// small events a second.
const statsInterval = time.Second

// watchStats emits vm.stats for sb's QEMU process until the returned stop
// is called (stop waits for the sampler). The numbers come from the host's
// /proc, so the guest has no say in them. A machine without a host process
// (an in-process test guest) is not sampled.
func watchStats(sb *sandbox.Sandbox, emit func(event.Data)) (stop func()) {
	info := sb.Info()
	if info.QEMUPID <= 0 {
		return func() {}
	}
	memMB := sb.Policy().MemoryMiB
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		prev, prevAt := procstat.Sample{}, time.Now().Add(-info.BootTime)
		t := time.NewTicker(statsInterval)
		defer t.Stop()
		for {
			s, err := procstat.Read(info.QEMUPID)
			if err != nil {
				return // QEMU is gone (or /proc is not there): nothing to sample
			}
			now := time.Now()
			emit(event.VMStats{MemoryMB: memMB, RSSBytes: s.RSS, CPUMS: s.CPU.Milliseconds(),
				CPUPercent: float64(int(s.CPUPercent(prev, now.Sub(prevAt))*10)) / 10})
			prev, prevAt = s, now
			select {
			case <-done:
				return
			case <-sb.Done():
				return
			case <-t.C:
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
