// Package vmm runs one QEMU microvm per sandbox: it builds the argv, owns the
// process and its private runtime directory, and hands back the control
// channel's connection. It knows nothing about the guest protocol.
package vmm

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/wire"
)

// NetSocket is the network device's socket in the runtime directory.
const NetSocket = "net.sock"

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
	// Memory, when its Path is set, backs guest RAM with a file (snapshots).
	Memory MemoryFile
	// Incoming, when set, starts the VM from the device state Save wrote
	// to this file (with Memory mapped private) instead of booting it.
	Incoming string
	// NIC gives the VM a virtio-net device whose frames go over a unix
	// socket in the runtime directory (Machine.NetConn); nil: no network
	// device at all.
	NIC *NIC
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

// args builds the QEMU argv for a VM whose runtime files live in dir.
func (c *Config) args(dir, console string) []string {
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
	storage := c.storageArgs(dir, &machine)
	storage = append(storage, c.memoryArgs(&machine)...)
	a := []string{
		"-M", machine,
		"-accel", string(c.Accel),
		"-cpu", cpu,
		"-m", strconv.Itoa(p.MemoryMiB) + "M",
		"-smp", strconv.Itoa(p.VCPUs),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", c.Kernel,
		"-append", strings.Join(cmdline, " "),
		"-chardev", "file,id=con,path=" + console,
		"-serial", "chardev:con",
		"-chardev", "socket,id=ctl,path=" + dir + "/ctl.sock",
		"-device", "virtio-serial-device",
		"-device", "virtserialport,chardev=ctl,name=" + wire.ControlPortName,
		"-object", "rng-random,id=rng0,filename=/dev/urandom",
		"-device", "virtio-rng-device,rng=rng0",
		"-fw_cfg", "name=" + wire.SecretFwCfgName + ",file=" + dir + "/secret",
		"-qmp", "unix:" + dir + "/qmp.sock,server=on,wait=off",
	}
	if c.Initramfs != "" {
		a = append(a, "-initrd", c.Initramfs)
	}
	if n := c.NIC; n != nil {
		// QEMU connects to the socket the host listens on (server=off):
		// the host's stack owns the other end before the guest exists.
		// The stream backend has no virtio-net header, so QEMU offers the
		// guest no offloads and frames arrive whole (RFC 894 Ethernet,
		// each after a 4-byte big-endian length).
		netdev := "stream,id=net0,server=off,addr.type=unix,addr.path=" + dir + "/" + NetSocket
		switch {
		case n.Baseline == BaselineSlirp:
			netdev = "user,id=net0" // 10.0.2.0/24, gateway 10.0.2.2 → host loopback
		case n.Baseline != "":
			netdev = "stream,id=net0,server=off,addr.type=unix,addr.path=" + n.Baseline // passt listens there
		}
		a = append(a, "-netdev", netdev,
			"-device", "virtio-net-device,netdev=net0,mac="+n.MAC+",host_mtu="+strconv.Itoa(n.MTU))
	}
	return append(a, storage...)
}
