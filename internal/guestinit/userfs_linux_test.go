package guestinit

import (
	"strings"
	"testing"
)

func TestDiskBudget(t *testing.T) {
	const mib = 1 << 20
	// MemAvailable after boot, measured: 42 MiB of 128, 165 of 256, 413 of 512.
	for _, c := range []struct {
		requested, avail, want int64
		refused                string
	}{
		{0, 413 * mib, 206 * mib, ""},               // default: half of what is free
		{0, 42 * mib, 21 * mib, ""},                 // small VM, still half
		{256 * mib, 413 * mib, 256 * mib, ""},       // the largest the host lets through at 512
		{128 * mib, 165 * mib, 128 * mib, ""},       // and at 256
		{64 * mib, 42 * mib, 0, "at most 23 MiB"},   // does not fit: says what would
		{0, 30 * mib, 0, "give the VM more memory"}, // no room for any disk
	} {
		got, err := diskBudget(c.requested, c.avail)
		if c.refused != "" {
			if err == nil || !strings.Contains(err.Error(), c.refused) {
				t.Errorf("diskBudget(%d MiB, %d MiB) = %d, %v; want a refusal saying %q", c.requested/mib, c.avail/mib, got/mib, err, c.refused)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("diskBudget(%d MiB, %d MiB) = %d MiB, %v; want %d MiB", c.requested/mib, c.avail/mib, got/mib, err, c.want/mib)
		}
		if got+got/8 > c.avail-guestReserve {
			t.Errorf("budget %d MiB and its inodes leave less than the reserve of %d MiB free", got/mib, c.avail/mib)
		}
	}
}
