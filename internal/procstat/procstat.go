// Package procstat reads a host process's CPU time and resident memory
// from /proc: how voidbox measures a VM (its QEMU process) from the
// outside, where the guest cannot influence the numbers.
package procstat

import (
	"errors"
	"time"
)

// ErrUnsupported reports a platform without /proc.
var ErrUnsupported = errors.New("process statistics need Linux /proc")

// Sample is one reading of a process.
type Sample struct {
	// CPU is user+system time of every thread since the process started.
	CPU time.Duration
	// RSS is the resident set size in bytes.
	RSS int64
}

// CPUPercent is the CPU time used between prev and s over wall, in percent
// of one core.
func (s Sample) CPUPercent(prev Sample, wall time.Duration) float64 {
	if wall <= 0 || s.CPU < prev.CPU {
		return 0
	}
	return float64(s.CPU-prev.CPU) / float64(wall) * 100
}
