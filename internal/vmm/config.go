// Package vmm runs one QEMU microvm per sandbox: it builds the argv, owns the
// process and its private runtime directory, and hands back the control
// channel's connection. It knows nothing about the guest protocol.
package vmm

import (
	"errors"
	"fmt"
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
	// Shares are host directories exported to the guest with virtio-9p.
	Shares []Share
	// CPUModel overrides QEMU's -cpu (default max under TCG, host under KVM).
	CPUModel string
	// Confine is how QEMU is jailed on this host (ProbeConfinement); the
	// zero value jails nothing and says so in the machine's Confinement.
	Confine Confinement
}

// Share is a host directory the guest can mount by Tag.
type Share struct {
	Tag      string
	HostPath string
	ReadOnly bool
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
	for _, sh := range c.Shares {
		// QEMU option syntax uses ',' as a separator; refuse rather than escape.
		if sh.Tag == "" || strings.ContainsAny(sh.Tag+sh.HostPath, ",=") || !filepath.IsAbs(sh.HostPath) {
			errs = append(errs, fmt.Errorf("share %q at %q: need a tag and an absolute path without ',' or '='", sh.Tag, sh.HostPath))
		}
	}
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

// path passes f and names it as QEMU should open it.
func (in *inputs) path(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(in.fd(f)) }

// resources are the opened files one VM's argv names.
type resources struct {
	kernel, initramfs, secret, console *os.File
	ctl, qmp                           *os.File // a connected socket, a listening one
	shares                             []*os.File
	all                                []*os.File // every one of the above, to close
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
	cmdline = append(cmdline, c.Cmdline...)
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
	for i, sh := range c.Shares {
		id := "fs" + strconv.Itoa(i)
		dev := "local,id=" + id + ",path=" + in.path(r.shares[i]) + ",security_model=none"
		if sh.ReadOnly {
			dev += ",readonly=on"
		}
		a = append(a, "-fsdev", dev, "-device", "virtio-9p-device,fsdev="+id+",mount_tag="+sh.Tag)
	}
	return a
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
