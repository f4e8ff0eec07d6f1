package guestinit

import (
	"time"

	"golang.org/x/sys/unix"
)

// setClock sets the guest clock from the host's. The guest has no RTC worth
// trusting under TCG, and TLS certificate checks need a sane clock.
func setClock(unixNano int64) {
	if unixNano <= 0 {
		return
	}
	ts := unix.NsecToTimespec(unixNano)
	_ = unix.ClockSettime(unix.CLOCK_REALTIME, &ts)
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func uptimeMillis() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano()).Milliseconds()
}
