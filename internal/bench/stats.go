// Package bench measures voidbox against baselines taken in the same run:
// boot against raw QEMU, fan-out against a single stage. Ratios, not absolute
// times, are the results: the machines differ, the ratio should not.
package bench

import (
	"fmt"
	"slices"
	"time"
)

// Stats summarises a sample of durations.
type Stats struct {
	N   int           `json:"n"`
	Min time.Duration `json:"min_ns"`
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	Max time.Duration `json:"max_ns"`
}

// Summarize computes nearest-rank percentiles of ds.
func Summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Stats{N: len(s), Min: s[0], P50: rank(0.50), P95: rank(0.95), Max: s[len(s)-1]}
}

func (s Stats) String() string {
	return fmt.Sprintf("p50 %v  p95 %v  (min %v, max %v, n=%d)", round(s.P50), round(s.P95), round(s.Min), round(s.Max), s.N)
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}
