package guestinit

import (
	"strings"
	"testing"
)

// TestNotifySupportFailsClosed: a kernel without seccomp user notification
// is refused with a reason, so the handshake rejects an allowlist rather
// than enforce it on first execs only. This host's kernel has it.
func TestNotifySupportFailsClosed(t *testing.T) {
	err := checkNotifySupport("kill_process kill_thread trap errno trace log allow\n")
	if err == nil || !strings.Contains(err.Error(), "no seccomp user notification") {
		t.Fatalf("without user_notif: %v", err)
	}
	if err := checkNotifySupport("kill_process kill_thread trap errno user_notif trace log allow\n"); err != nil {
		t.Fatalf("with user_notif: %v", err)
	}
}

// TestExecFilterJumps: every jump of the filter lands inside it, on one of
// its three returns or a later instruction.
func TestExecFilterJumps(t *testing.T) {
	f := execFilter()
	for i, ins := range f {
		if ins.Code&0x07 != 0x05 { // BPF_JMP
			continue
		}
		for _, off := range []uint8{ins.Jt, ins.Jf} {
			if to := i + 1 + int(off); to >= len(f) {
				t.Errorf("instruction %d jumps to %d, past the end (%d)", i, to, len(f))
			}
		}
	}
	if last := f[len(f)-1]; last.Code&0x07 != 0x06 { // BPF_RET
		t.Errorf("the filter does not end in a return")
	}
}
