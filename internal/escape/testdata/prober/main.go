//go:build linux

// prober is the escape suite's hand inside the guest: uploaded into a
// running VM and run as the sandbox user, it tries one thing a shell cannot
// (raw I/O ports, the control port, module loading, namespaces, ptrace) and
// prints "allowed" or "denied: ERRNO". The test decides which is right.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: prober PROBE [ARG]")
		os.Exit(2)
	}
	probes := map[string]func([]string) error{
		"iopl":      func([]string) error { return errno(syscall.Syscall(syscall.SYS_IOPL, 3, 0, 0)) },
		"ioperm":    ioperm,
		"open":      openRW,
		"ctlport":   ctlport,
		"module":    module,
		"mount":     mountTmpfs,
		"userns":    userns,
		"mountns":   func([]string) error { return syscall.Unshare(syscall.CLONE_NEWNS) },
		"ptrace":    func([]string) error { return errno(syscall.Syscall(syscall.SYS_PTRACE, syscall.PTRACE_ATTACH, 1, 0)) },
		"kill1":     func([]string) error { return syscall.Kill(1, syscall.SIGKILL) },
		"setuid0":   func([]string) error { return errno(syscall.RawSyscall(syscall.SYS_SETUID, 0, 0, 0)) },
		"chroot":    func([]string) error { return syscall.Chroot("/tmp") },
		"reboot":    func([]string) error { return syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF) },
		"mknod":     func(a []string) error { return syscall.Mknod(arg(a, "/tmp/port"), syscall.S_IFCHR|0o666, 1<<8|4) },
		"bpf":       bpfMap,
		"perfevent": perfEvent,
	}
	p, ok := probes[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown probe %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := p(os.Args[2:]); err != nil {
		fmt.Printf("denied: %v\n", err)
		return
	}
	fmt.Println("allowed")
}

func arg(a []string, def string) string {
	if len(a) > 0 {
		return a[0]
	}
	return def
}

func errno(_, _ uintptr, e syscall.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

// ioperm asks for the fw_cfg I/O ports (0x510, 12 of them), through which
// the firmware files, the secret among them, can be read without sysfs.
func ioperm([]string) error {
	return errno(syscall.Syscall(syscall.SYS_IOPERM, 0x510, 12, 1))
}

// openRW opens a path for reading and writing and writes a byte to it.
func openRW(a []string) error {
	f, err := os.OpenFile(arg(a, "/dev/port"), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write([]byte{0})
	return err
}

// ctlport opens every virtio-serial port, the control port above all, and
// writes a garbage frame (a length past the cap, then junk) into each. It
// reports the first port it could open, else the last error.
func ctlport([]string) error {
	dirs, _ := filepath.Glob("/sys/class/virtio-ports/*")
	if len(dirs) == 0 {
		return errors.New("no virtio-serial port in sysfs (the probe itself is broken)")
	}
	var last error
	for _, d := range dirs {
		name, _ := os.ReadFile(filepath.Join(d, "name"))
		f, err := os.OpenFile("/dev/"+filepath.Base(d), os.O_RDWR, 0)
		if err != nil {
			last = fmt.Errorf("%s (%s): %w", filepath.Base(d), strings.TrimSpace(string(name)), err)
			continue
		}
		_, werr := f.Write([]byte{0xff, 0xff, 0xff, 0xff, 'g', 'a', 'r', 'b', 'a', 'g', 'e'})
		f.Close()
		if werr == nil {
			return nil
		}
		last = werr
	}
	return last
}

// module loads a kernel module from a file (finit_module), then from
// memory (init_module) with a junk image.
func module(a []string) error {
	f, err := os.Open(arg(a, "/dev/null"))
	if err != nil {
		return err
	}
	defer f.Close()
	params := []byte{0}
	if err := errno(syscall.Syscall(313 /* finit_module */, f.Fd(), uintptr(unsafe.Pointer(&params[0])), 0)); err != nil {
		junk := make([]byte, 64)
		if err2 := errno(syscall.Syscall(syscall.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&junk[0])), uintptr(len(junk)), uintptr(unsafe.Pointer(&params[0])))); err2 == nil {
			return nil
		}
		return err
	}
	return nil
}

func mountTmpfs(a []string) error {
	dir := arg(a, "/tmp/mnt")
	_ = os.MkdirAll(dir, 0o755)
	return syscall.Mount("none", dir, "tmpfs", 0, "")
}

// perfEvent opens a CPU-wide software counter (perf_event_open with pid
// -1 on CPU 0), a side channel on every process of the guest.
func perfEvent([]string) error {
	attr := make([]byte, 128)
	attr[0] = 1   // type PERF_TYPE_SOFTWARE (config 0: the CPU clock)
	attr[4] = 128 // size
	fd, _, e := syscall.Syscall6(298 /* perf_event_open */, uintptr(unsafe.Pointer(&attr[0])), ^uintptr(0) /* pid -1 */, 0 /* cpu 0 */, ^uintptr(0) /* no group */, 0, 0)
	if e != 0 {
		return e
	}
	syscall.Close(int(fd))
	return nil
}

// bpfMap creates a one-entry array map: the first step of loading any BPF
// program, refused to unprivileged users by unprivileged_bpf_disabled.
func bpfMap([]string) error {
	var attr [72]byte
	attr[0] = 2  // map_type BPF_MAP_TYPE_ARRAY
	attr[4] = 4  // key_size
	attr[8] = 4  // value_size
	attr[12] = 1 // max_entries
	fd, _, e := syscall.Syscall(321 /* bpf */, 0 /* BPF_MAP_CREATE */, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	if e != 0 {
		return e
	}
	syscall.Close(int(fd))
	return nil
}

// userns starts /bin/true in a new user namespace. unshare(CLONE_NEWUSER)
// itself would fail with EINVAL in any multithreaded process (a Go program),
// whatever the policy; a child cloned into one says what the kernel allows.
func userns([]string) error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	return cmd.Run()
}
