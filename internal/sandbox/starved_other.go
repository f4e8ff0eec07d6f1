//go:build !linux

package sandbox

import "time"

// threadWaits is unknown off Linux: boots are bounded by wall time.
func threadWaits(int) (map[string]time.Duration, bool) { return nil, false }
