package guestinit

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

// mount is one entry of the boot mount table.
type mount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// bootMounts is the PID-1 mount table, applied in order. The filesystems
// the sandbox user writes (/workspace, /home/sandbox, /tmp, /dev/shm) are
// not here: they share one budget whose size comes with the host's policy,
// so the handshake mounts them (mountUserFS), before any command can run.
var bootMounts = []mount{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
}

// runInit is PID 1. Any fatal error is logged to the console and powers the VM
// off, so the host sees QEMU exit together with the reason in the console log.
func runInit() {
	start := time.Now()
	if err := setupSystem(); err != nil {
		fatal("setting up the guest: %v", err)
	}
	preload := startPreload()
	reaper := startReaper()
	ctl, err := openControlPort(wire.ControlPortName)
	if err != nil {
		fatal("opening control port: %v", err)
	}
	secret, err := readSecret(SecretPath)
	if err != nil {
		fatal("reading session secret: %v", err)
	}
	srv := &server{secret: secret, spawner: &spawner{reaper: reaper, cgroups: newCgroups()}, bootStart: start, preload: preload}
	if err := srv.serve(ctl); err != nil {
		// Level 2 reaches the console under "quiet", so the host shows
		// why in the console tail.
		logf(2, "control channel failed: %v; powering off", err)
	}
	powerOff()
}

func setupSystem() error {
	for _, m := range bootMounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mounting %s on %s: %w", m.fstype, m.target, err)
		}
	}
	_ = os.Symlink("/proc/self/fd", "/dev/fd")
	_ = os.Symlink("/proc/self/fd/0", "/dev/stdin")
	_ = os.Symlink("/proc/self/fd/1", "/dev/stdout")
	_ = os.Symlink("/proc/self/fd/2", "/dev/stderr")
	if err := closeOtherWrites(); err != nil {
		return err
	}
	_ = unix.Sethostname([]byte("voidbox"))
	// The OOM killer must pick a command, never PID 1 (the VM would die
	// with it). Children inherit this; spawn resets it before they run.
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte("-1000"), 0); err != nil {
		return fmt.Errorf("protecting PID 1 from the OOM killer: %w", err)
	}
	// The host says on the command line when the VM has a network device:
	// its driver then loads with the boot modules, concurrently, instead
	// of adding to the handshake.
	var extra []string
	if hasNIC() {
		extra = netModules
	}
	if err := loadModules(ModulesFile, true, extra...); err != nil {
		return err
	}
	if err := loopbackUp(); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	return nil
}

// loopbackUp brings up "lo" so in-guest services (the LLM endpoint) can listen
// on 127.0.0.1 even when the VM has no network interface.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func powerOff() {
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	// Reboot only returns on failure; PID 1 must never exit.
	for {
		time.Sleep(time.Hour)
	}
}

func fatal(format string, args ...any) {
	logf(2, format, args...)
	powerOff()
}

// logf writes to the kernel log at the given syslog level (0–7). Errors (≤3)
// reach the serial console even with "quiet"; the init never writes to the
// console tty directly, whose backpressure could stall PID 1.
func logf(level int, format string, args ...any) {
	msg := fmt.Sprintf("<%d>voidbox-guest: %s\n", level, fmt.Sprintf(format, args...))
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	_, _ = f.WriteString(msg)
	_ = f.Close()
}
