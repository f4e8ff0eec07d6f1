package guestinit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw seccomp user notification (seccomp(2), seccomp_unotify(2)): the
// filter the exec guard installs, and the structs and ioctls of its
// listener. Layouts follow <linux/seccomp.h>; checkNotifySupport compares
// them with the running kernel's before anything relies on them.

// seccompData mirrors struct seccomp_data.
type seccompData struct {
	nr   int32
	arch uint32
	ip   uint64
	args [6]uint64
}

// seccompNotif mirrors struct seccomp_notif.
type seccompNotif struct {
	id    uint64
	pid   uint32 // thread id of the caller, in the listener's pid namespace
	flags uint32
	data  seccompData
}

// seccompResp mirrors struct seccomp_notif_resp.
type seccompResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// seccompNotifSizes mirrors struct seccomp_notif_sizes.
type seccompNotifSizes struct{ notif, resp, data uint16 }

// System call numbers the filter watches (x86_64).
const (
	sysExecve   = unix.SYS_EXECVE
	sysExecveat = unix.SYS_EXECVEAT
	sysPrctl    = unix.SYS_PRCTL
	x32Bit      = 0x40000000 // __X32_SYSCALL_BIT
)

// checkNotifySupport fails unless the kernel offers user notification with
// the struct layouts above (Linux 5.5+ for CONTINUE). actionsAvail is
// /proc/sys/kernel/seccomp/actions_avail's content.
func checkNotifySupport(actionsAvail string) error {
	if !strings.Contains(" "+strings.TrimSpace(actionsAvail)+" ", " user_notif ") {
		return fmt.Errorf("the guest kernel has no seccomp user notification (actions: %s)", strings.TrimSpace(actionsAvail))
	}
	var s seccompNotifSizes
	if _, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_NOTIF_SIZES, 0, uintptr(unsafe.Pointer(&s))); e != 0 {
		return fmt.Errorf("asking the kernel's seccomp notification sizes: %w", e)
	}
	if int(s.notif) != int(unsafe.Sizeof(seccompNotif{})) || int(s.resp) != int(unsafe.Sizeof(seccompResp{})) ||
		int(s.data) != int(unsafe.Sizeof(seccompData{})) {
		return fmt.Errorf("the kernel's seccomp notification sizes %+v differ from this build's", s)
	}
	return nil
}

// execFilter sends execve, execveat and prctl(PR_SET_NAME) to the listener
// and lets every other call through. Calls of another ABI (i386 through int
// 0x80, x32) fail with EPERM: their exec would escape the check.
func execFilter() []unix.SockFilter {
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
		arch = 4  // offsetof(struct seccomp_data, arch)
		arg0 = 16 // offsetof(struct seccomp_data, args[0]), low word (little-endian)
	)
	// Instruction indexes of the three outcomes at the end.
	const allow, notify, deny = 9, 10, 11
	at := func(from, to int) uint8 { return uint8(to - from - 1) }
	return []unix.SockFilter{
		/* 0 */ {Code: ld, K: arch},
		/* 1 */ {Code: jeq, K: unix.AUDIT_ARCH_X86_64, Jt: 0, Jf: at(1, deny)},
		/* 2 */ {Code: ld, K: 0}, // nr
		/* 3 */ {Code: jge, K: x32Bit, Jt: at(3, deny), Jf: 0},
		/* 4 */ {Code: jeq, K: sysExecve, Jt: at(4, notify)},
		/* 5 */ {Code: jeq, K: sysExecveat, Jt: at(5, notify)},
		/* 6 */ {Code: jeq, K: sysPrctl, Jt: 0, Jf: at(6, allow)},
		/* 7 */ {Code: ld, K: arg0},
		/* 8 */ {Code: jeq, K: unix.PR_SET_NAME, Jt: at(8, notify), Jf: at(8, allow)},
		/* 9 */ {Code: ret, K: unix.SECCOMP_RET_ALLOW},
		/* 10 */ {Code: ret, K: unix.SECCOMP_RET_USER_NOTIF},
		/* 11 */ {Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	}
}

// installExecFilter puts execFilter on the calling thread (only: no TSYNC)
// and returns the listener. Precondition: the goroutine is locked to its
// thread for good, and the caller has CAP_SYS_ADMIN (PID 1 has). Once a
// notification is received, only a fatal signal interrupts the caller's
// wait (WAIT_KILLABLE_RECV, Linux 5.19+), so an answer is never lost to a
// restarted call; older kernels fall back to the plain listener.
func installExecFilter() (int, error) {
	f := execFilter()
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	for _, flags := range []uintptr{unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER} {
		fd, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
		if e == 0 {
			return int(fd), nil
		}
		if e != unix.EINVAL {
			return -1, fmt.Errorf("installing the exec filter: %w", e)
		}
	}
	return -1, errors.New("installing the exec filter: the kernel refuses a seccomp listener")
}

// notifRecv waits for the next notification.
func notifRecv(fd int, n *seccompNotif) error {
	*n = seccompNotif{}
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(n))
}

// notifRespond answers a notification: errno != 0 fails the call with it,
// errno == 0 lets the call proceed as the caller made it.
func notifRespond(fd int, id uint64, errno syscall.Errno) error {
	r := seccompResp{id: id}
	if errno != 0 {
		r.error = -int32(errno)
	} else {
		r.flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	}
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
}

// notifValid reports whether the notification is still pending: the
// caller has not died (so its pid, and the memory read through it, were
// the caller's).
func notifValid(fd int, id uint64) bool {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, e := syscall.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// ptraceSeize attaches to tid without stopping it, with options.
func ptraceSeize(tid int, options int) error {
	_, _, e := syscall.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(tid), 0, uintptr(options), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// ptraceCont resumes a stopped tracee, delivering sig (0: none).
func ptraceCont(tid, sig int) error {
	_, _, e := syscall.Syscall6(unix.SYS_PTRACE, unix.PTRACE_CONT, uintptr(tid), 0, uintptr(sig), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// ptraceDetach lets a stopped tracee go, delivering sig (0: none).
func ptraceDetach(tid, sig int) error {
	_, _, e := syscall.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(tid), 0, uintptr(sig), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// memReader reads a caller's memory through /proc/PID/mem.
type memReader struct{ f *os.File }

func openMem(pid int) (*memReader, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return nil, err
	}
	return &memReader{f: f}, nil
}

func (m *memReader) Close() error { return m.f.Close() }

// cstring reads a NUL-terminated string of at most max bytes at addr.
func (m *memReader) cstring(addr uint64, max int) (string, error) {
	if addr == 0 {
		return "", errors.New("null pointer")
	}
	var out []byte
	buf := make([]byte, 256)
	for len(out) < max {
		n, err := m.f.ReadAt(buf, int64(addr)+int64(len(out)))
		if n == 0 {
			if err == nil {
				err = errors.New("short read")
			}
			return "", err
		}
		if i := strings.IndexByte(string(buf[:n]), 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:n]...)
	}
	return "", fmt.Errorf("string longer than %d bytes", max)
}

// argv reads up to max entries of a NULL-terminated pointer array.
func (m *memReader) argv(addr uint64, max, strMax int) ([]string, error) {
	var out []string
	if addr == 0 {
		return nil, nil // execve with a null argv: no argv[0]
	}
	var p [8]byte
	for i := 0; i < max; i++ {
		if _, err := m.f.ReadAt(p[:], int64(addr)+int64(8*i)); err != nil {
			return nil, err
		}
		ptr := binary.LittleEndian.Uint64(p[:])
		if ptr == 0 {
			return out, nil
		}
		s, err := m.cstring(ptr, strMax)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
