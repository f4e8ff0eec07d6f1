package guestinit

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// siginfoPID returns si_pid of a SIGCHLD siginfo filled by waitid; 0 means
// no child was ready. The field opens the union that follows si_signo,
// si_errno and si_code (3 × int32), aligned like a pointer: offset 16 on
// 64-bit Linux, 12 on 32-bit (<bits/types/siginfo_t.h>).
func siginfoPID(info *unix.Siginfo) int {
	align := unsafe.Alignof(uintptr(0))
	off := (12 + align - 1) &^ (align - 1)
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(info), off)))
}
