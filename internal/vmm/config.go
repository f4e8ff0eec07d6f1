// Package vmm runs one QEMU microvm per sandbox: it builds the argv, owns the
// process and its private runtime directory, and hands back the control
// channel's connection. It knows nothing about the guest protocol.
package vmm

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/wire"
)

// Config describes one VM.
type Config struct {
	QEMU      string // path to qemu-system-x86_64
	Kernel    string // ELF vmlinux (PVH) or bzImage
	Initramfs string
	// Policy gives the VM's memory and vCPUs (validated by its producer,
	// and again here).
	Policy  policy.Sandbox
	Accel   Accel
	TSCkHz  int      // for TCG; 0 omits tsc_early_khz
	Cmdline []string // extra kernel command-line words
	Secret  []byte   // per-VM secret, passed as a root-only fw_cfg file
	// RunDir is the parent of the per-VM runtime directory; "" picks
	// $XDG_RUNTIME_DIR/voidbox or $TMPDIR/voidbox-<uid>.
	RunDir string
	// Name labels the runtime directory (truncated; socket paths are short).
	Name string
	// ConsoleLog, if set, receives the serial console instead of a file in
	// the runtime directory (which is removed when the VM is closed).
	ConsoleLog string
	// Shares are host directories exported to the guest (virtio-9p or
	// virtiofs, by Share.Protocol).
	Shares []Share
	// Disks are host files attached read-only as virtio-blk disks.
	Disks []Disk
	// VirtioFSD is the virtiofsd binary ("" means DefaultVirtioFSD).
	VirtioFSD string
	// CPUModel overrides QEMU's -cpu (default max under TCG, host under KVM).
	CPUModel string
	// Memory backs guest RAM with a memfd: a template's or a restore's
	// (snapshots); the zero value is anonymous RAM.
	Memory MemoryFile
	// Incoming, when set, starts the VM from the device state Save wrote
	// to this file (with Memory.Image) instead of booting it.
	Incoming string
	// NIC gives the VM a virtio-net device whose frames go over a socket
	// pair (Machine.NetConn); nil: no network device at all.
	NIC *NIC
	// Confine is how QEMU is jailed on this host (ProbeConfinement); the
	// zero value jails nothing and says so in the machine's Confinement.
	Confine Confinement
}

// NIC is the VM's network device.
type NIC struct {
	MAC string // 52:54:00:12:34:56
	// MTU is offered to the guest (virtio-net host_mtu), which then cannot
	// raise its own above it; 68-65535.
	MTU int
	// Baseline replaces the host's own stack for `voidbox bench net` only:
	// nothing then decides any flow. "" is voidbox's stack (NetConn);
	// BaselineSlirp is QEMU's -netdev user; a path is a passt socket QEMU
	// connects to.
	Baseline string
}

// BaselineSlirp is QEMU's own user networking (libslirp), as a benchmark
// baseline.
const BaselineSlirp = "slirp"

// Share is a host directory the guest can mount by Tag.
type Share struct {
	Tag      string
	HostPath string
	ReadOnly bool
	Protocol Protocol // "" means NineP
}

// ErrInvalid reports a Config that cannot describe a VM.
var ErrInvalid = errors.New("invalid vm config")

func (c *Config) validate() error {
	var errs []error
	if c.QEMU == "" {
		errs = append(errs, errors.New("no QEMU binary"))
	}
	if c.Kernel == "" {
		errs = append(errs, errors.New("no kernel"))
	}
	if err := c.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Accel != KVM && c.Accel != TCG {
		errs = append(errs, fmt.Errorf("accelerator %q", c.Accel))
	}
	if len(c.Secret) < 16 {
		errs = append(errs, errors.New("secret shorter than 16 bytes"))
	}
	if n := c.NIC; n != nil {
		if _, err := net.ParseMAC(n.MAC); err != nil || len(n.MAC) != 17 {
			errs = append(errs, fmt.Errorf("nic: MAC %q is not xx:xx:xx:xx:xx:xx", n.MAC))
		}
		if n.MTU < 68 || n.MTU > 65535 {
			errs = append(errs, fmt.Errorf("nic: MTU %d is outside 68..65535", n.MTU))
		}
		if b := n.Baseline; b != "" && b != BaselineSlirp && (!filepath.IsAbs(b) || strings.ContainsAny(b, ",=")) {
			errs = append(errs, fmt.Errorf("nic: baseline %q is neither %s nor an absolute socket path without ',' or '='", b, BaselineSlirp))
		}
	}
	for _, sh := range c.Shares {
		// QEMU's and virtiofsd's option syntax uses ',' as a separator;
		// refuse rather than escape.
		if sh.Tag == "" || strings.ContainsAny(sh.Tag, ",= ") || strings.ContainsAny(sh.HostPath, ",\n") || !filepath.IsAbs(sh.HostPath) {
			errs = append(errs, fmt.Errorf("share %q at %q: need a tag and an absolute path without ','", sh.Tag, sh.HostPath))
		}
	}
	errs = append(errs, c.storageProblems()...)
	errs = append(errs, c.snapshotProblems()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// inputs are the host resources QEMU gets, opened by voidbox: QEMU runs as
// a uid that can reach none of voidbox's files by path, so each is an
// inherited descriptor, named by its /proc/self/fd link (reopening through
// it checks only the file's own permissions) or passed as a QEMU fd set.
type inputs struct {
	files []*os.File // QEMU's descriptors 3, 4, …
}

// fd passes f to QEMU and returns its descriptor number there.
func (in *inputs) fd(f *os.File) int {
	in.files = append(in.files, f)
	return 2 + len(in.files)
}

// number is the descriptor f was passed as, or -1.
func (in *inputs) number(f *os.File) int {
	for i, g := range in.files {
		if g == f {
			return 3 + i
		}
	}
	return -1
}

// path passes f and names it as QEMU should open it.
func (in *inputs) path(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(in.fd(f)) }

// resources are the opened files one VM's argv names.
type resources struct {
	kernel, initramfs, secret, console *os.File
	ctl, qmp                           *os.File // a connected socket, a listening one
	net                                *os.File // QEMU's end of the network device's socket pair; nil: none
	mem                                *os.File // guest RAM (a template's memfd, a restore's image); nil: anonymous
	state                              *os.File // the device state a restore loads; nil: a boot
	disks                              []*os.File
	// shares: each share's directory (9p) or a socket connected to its
	// virtiofsd (virtiofs), by index of Config.Shares.
	shares []*os.File
	all    []*os.File // every one of the above, to close
}

func (r *resources) close() {
	for _, f := range r.all {
		f.Close()
	}
	r.all = nil
}

// seccompSandbox is QEMU's own syscall filter (-sandbox, libseccomp):
// obsolete system calls, gaining privileges (setuid and friends), spawning
// processes (fork, exec) and resource control (scheduling, affinity) all
// fail. QEMU applies it once initialised, before running the guest.
const seccompSandbox = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

// args builds the QEMU argv for a VM whose resources are r, passing them in in.
func (c *Config) args(r resources, in *inputs) []string {
	p := c.Policy.WithDefaults()
	machine := "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=off,pic=off"
	// TCG: "max" so guest software finds the instructions it expects (Claude
	// Code's runtime needs AVX). "qemu64" makes an exec round trip ~40%
	// faster under TCG (libc and Go pick SSE2 paths that TCG translates
	// cheaply; measured 8.7 vs 14.5 ms p50) but breaks such software, so it
	// is an opt-in: VOIDBOX_QEMU_CPU.
	cpu := "max"
	if c.Accel == KVM {
		cpu = "host"
	}
	if c.CPUModel != "" {
		cpu = c.CPUModel
	}
	cmdline := []string{
		"console=ttyS0", "quiet", "loglevel=3", "panic=-1", "pci=off",
		"rdinit=/init", "random.trust_cpu=on",
		// The secret's fw_cfg file is found through this ioport description:
		// the microvm has no ACPI node for fw_cfg.
		"qemu_fw_cfg.ioport=0xc@0x510:0:1:4",
	}
	if c.Accel == TCG {
		// TCG's TSC is the host's, so it is as stable as the host's. Without
		// tsc=reliable the guest falls back to the jiffies clocksource: no
		// high-resolution timers, every timed sleep rounded up to a 4 ms tick,
		// which made exec round trips several times slower (measured).
		cmdline = append(cmdline, "tsc=reliable")
		if c.TSCkHz > 0 {
			cmdline = append(cmdline, "tsc_early_khz="+strconv.Itoa(c.TSCkHz))
		}
	}
	if c.NIC != nil {
		cmdline = append(cmdline, wire.NetCmdline)
	}
	cmdline = append(cmdline, c.Cmdline...)
	machine += c.machineSuffix()
	memory := c.memoryArgs(r, in, &machine)
	var a []string
	if c.Confine.Seccomp {
		a = append(a, "-sandbox", seccompSandbox)
	}
	a = append(a,
		"-M", machine,
		"-accel", accelArg(c.Accel),
		"-cpu", cpu,
		"-m", strconv.Itoa(p.MemoryMiB)+"M",
		"-smp", strconv.Itoa(p.VCPUs),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", in.path(r.kernel),
		"-append", strings.Join(cmdline, " "),
		"-add-fd", "fd="+strconv.Itoa(in.fd(r.console))+",set=1",
		"-chardev", "file,id=con,path=/dev/fdset/1",
		"-serial", "chardev:con",
		"-chardev", "socket,id=ctl,fd="+strconv.Itoa(in.fd(r.ctl)),
		"-device", "virtio-serial-device",
		"-device", "virtserialport,chardev=ctl,name="+wire.ControlPortName,
		"-object", "rng-random,id=rng0,filename=/dev/urandom",
		"-device", "virtio-rng-device,rng=rng0",
		"-fw_cfg", "name="+wire.SecretFwCfgName+",file="+in.path(r.secret),
		"-chardev", "socket,id=qmp,fd="+strconv.Itoa(in.fd(r.qmp))+",server=on,wait=off",
		"-mon", "chardev=qmp,mode=control",
	)
	if r.initramfs != nil {
		a = append(a, "-initrd", in.path(r.initramfs))
	}
	if n := c.NIC; n != nil {
		// QEMU gets one end of a socket pair as an already connected
		// client (addr.type=fd): the host's stack owns the other end before
		// the guest exists, and QEMU's uid needs no path to reach it. The
		// stream backend has no virtio-net header, so QEMU offers the guest
		// no offloads and frames arrive whole (RFC 894 Ethernet, each after
		// a 4-byte big-endian length).
		var netdev string
		switch {
		case n.Baseline == BaselineSlirp:
			netdev = "user,id=net0" // 10.0.2.0/24, gateway 10.0.2.2 → host loopback
		case n.Baseline != "":
			netdev = "stream,id=net0,server=off,addr.type=unix,addr.path=" + n.Baseline // passt listens there
		default:
			netdev = "stream,id=net0,server=off,addr.type=fd,addr.str=" + strconv.Itoa(in.fd(r.net))
		}
		a = append(a, "-netdev", netdev,
			"-device", "virtio-net-device,netdev=net0,mac="+n.MAC+",host_mtu="+strconv.Itoa(n.MTU))
	}
	a = append(a, memory...)
	return append(a, c.storageArgs(r, in)...)
}

// accelArg is -accel's value. TCG's translation cache is given an explicit
// size so that QEMU's memory is bounded by what its cgroup allows
// (memoryLimit): QEMU 7.2 otherwise sizes it at up to 1 GiB.
func accelArg(a Accel) string {
	if a == TCG {
		return "tcg,tb-size=" + strconv.Itoa(tcgCodeMiB)
	}
	return string(a)
}
