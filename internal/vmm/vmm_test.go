package vmm

import (
	"errors"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/wire"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeHost(t *testing.T, files ...string) HostProbe {
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	return HostProbe{Root: root}
}

func TestChooseAccel(t *testing.T) {
	cases := []struct {
		name   string
		files  []string
		want   Accel
		reason string
		smoke  bool
	}{
		{"no kvm device", nil, TCG, "no /dev/kvm", false},
		{"pvm host", []string{"/dev/kvm", "/sys/module/kvm_pvm/x", "/sys/module/kvm_intel/x"}, TCG, "PVM", false},
		{"no hardware module", []string{"/dev/kvm", "/sys/module/kvm/x"}, TCG, "no hardware KVM module", false},
		{"hardware kvm", []string{"/dev/kvm", "/sys/module/kvm_amd/x"}, KVM, "hardware-assisted", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := fakeHost(t, c.files...).ChooseAccel("")
			if err != nil || got.Accel != c.want || !strings.Contains(got.Reason, c.reason) || got.NeedsSmokeBoot != c.smoke {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
	if got, _ := fakeHost(t).ChooseAccel("kvm"); got.Accel != KVM {
		t.Fatalf("override ignored: %+v", got)
	}
	if _, err := fakeHost(t).ChooseAccel("xen"); err == nil {
		t.Fatal("bad override accepted")
	}
}

func TestTSCkHz(t *testing.T) {
	h := fakeHost(t)
	os.MkdirAll(filepath.Join(h.Root, "proc"), 0o755)
	os.WriteFile(filepath.Join(h.Root, "proc/cpuinfo"), []byte("processor\t: 0\ncpu MHz\t\t: 2095.997\n"), 0o644)
	if k, err := h.TSCkHz(); err != nil || k != 2095997 {
		t.Fatalf("got %d, %v", k, err)
	}
}

// testResources opens stand-ins for what Start opens: the fixed files, a
// share each, a disk each and the network device's end.
func testResources(t *testing.T, shares int, disks ...int) resources {
	t.Helper()
	f := func() *os.File {
		f, err := os.CreateTemp(t.TempDir(), "res")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	r := resources{kernel: f(), initramfs: f(), secret: f(), console: f(), ctl: f(), qmp: f()}
	for i := 0; i < shares; i++ {
		r.shares = append(r.shares, f())
	}
	for _, n := range disks {
		for i := 0; i < n; i++ {
			r.disks = append(r.disks, f())
		}
	}
	r.net = f()
	return r
}

// argsOf is c's argv with stand-in resources, joined.
func argsOf(t *testing.T, c Config) string {
	t.Helper()
	var in inputs
	return strings.Join(c.args(testResources(t, len(c.Shares), len(c.Disks)), &in), " ")
}

func TestArgsKeepSecretsOffTheCommandLine(t *testing.T) {
	c := Config{QEMU: "q", Kernel: "/host/kernel", Initramfs: "/host/initrd", Policy: policy.Sandbox{MemoryMiB: 256, VCPUs: 2}, Accel: TCG, TSCkHz: 1000,
		Secret: []byte("0123456789abcdef-secret"), Shares: []Share{{Tag: "t", HostPath: "/host/share", ReadOnly: true}},
		Confine: Confinement{Seccomp: true}}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	r := testResources(t, 1)
	var in inputs
	args := c.args(r, &in)
	a := strings.Join(args, " ")
	for _, want := range []string{"-M microvm", "-accel tcg,tb-size=256", "-m 256M", "-smp 2", "-nodefaults", "-no-reboot",
		"tsc=reliable", "tsc_early_khz=1000", "readonly=on", "mount_tag=t",
		"-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
		"-kernel /proc/self/fd/3", "-add-fd fd=4,set=1", "path=/dev/fdset/1", "socket,id=ctl,fd=5",
		"file=/proc/self/fd/6", "socket,id=qmp,fd=7,server=on", "-initrd /proc/self/fd/8", "path=/proc/self/fd/9,"} {
		if !strings.Contains(a, want) {
			t.Errorf("argv lacks %q: %s", want, a)
		}
	}
	if args[0] != "-sandbox" {
		t.Errorf("-sandbox must come first (QEMU applies it before the rest): %v", args[:2])
	}
	want := []*os.File{r.kernel, r.console, r.ctl, r.secret, r.qmp, r.initramfs, r.shares[0]}
	if len(in.files) != len(want) {
		t.Fatalf("passed %d files, want %d", len(in.files), len(want))
	}
	for i := range want {
		if in.files[i] != want[i] {
			t.Errorf("descriptor %d is %s, want %s", 3+i, in.files[i].Name(), want[i].Name())
		}
	}
	if strings.Contains(a, "/host/") {
		t.Errorf("host paths on the command line (QEMU's uid cannot open them): %s", a)
	}
	if strings.Contains(a, "6162636465662d736563726574") || strings.Contains(a, "-secret") {
		t.Errorf("secret material on the QEMU command line: %s", a)
	}
	kvm := c
	kvm.Accel = KVM
	kvm.Confine = Confinement{}
	var in2 inputs
	if a := strings.Join(kvm.args(r, &in2), " "); strings.Contains(a, "tsc=reliable") || !strings.Contains(a, "-cpu host") ||
		!strings.Contains(a, "-accel kvm ") || strings.Contains(a, "-sandbox") {
		t.Errorf("kvm argv: %s", a)
	}
}

func TestLimitsCoverTheGuestAndQEMU(t *testing.T) {
	l := limits(policy.Sandbox{MemoryMiB: 512, VCPUs: 2}, TCG)
	if l.MemoryBytes != (512+qemuOwnMiB+tcgCodeMiB)<<20 || l.Tasks != qemuTasks+4 || l.CPUWeight != 200 {
		t.Fatalf("tcg limits %+v", l)
	}
	if l := limits(policy.Sandbox{}, KVM); l.MemoryBytes != (policy.DefaultMemoryMiB+qemuOwnMiB)<<20 || l.CPUWeight != 100 {
		t.Fatalf("kvm limits %+v", l)
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	err := (&Config{Policy: policy.Sandbox{MemoryMiB: 1, VCPUs: -1}, Accel: "xen", Shares: []Share{{Tag: "a,b", HostPath: "rel"}}}).validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
	for _, w := range []string{"QEMU", "kernel", "memory_mb", "vcpus", "accelerator", "secret", "share"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("no mention of %s in %v", w, err)
		}
	}
}

func TestSweepStale(t *testing.T) {
	parent := t.TempDir()
	dead := filepath.Join(parent, "vm-dead-1")
	live := filepath.Join(parent, "vm-live-2")
	os.MkdirAll(dead, 0o700)
	os.MkdirAll(live, 0o700)
	os.WriteFile(filepath.Join(dead, "owner"), []byte("999999999"), 0o600) // no such pid
	os.WriteFile(filepath.Join(live, "owner"), []byte("1"), 0o600)         // init is alive
	sweepStale(parent)
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("dead owner's dir kept")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("live owner's dir removed")
	}
}

func TestPanicMessage(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "console.log")
	os.WriteFile(log, []byte("[ 1.0] boot\r\n[ 2.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000300\r\n[ 2.2] CPU: 0 PID: 1\n"), 0o644)
	m := &Machine{console: log}
	if got := m.PanicMessage(); got != "Attempted to kill init! exitcode=0x00000300" {
		t.Fatalf("got %q", got)
	}
	if tail := m.ConsoleTail(1); tail != "[ 2.2] CPU: 0 PID: 1" {
		t.Fatalf("tail %q", tail)
	}
}

// A VM gets a network device only when the config asks for one.
func TestArgsNICOnlyWhenAsked(t *testing.T) {
	c := Config{QEMU: "q", Kernel: "/k", Accel: TCG, Secret: make([]byte, 32)}
	a := argsOf(t, c)
	for _, no := range []string{"-netdev", "virtio-net", wire.NetCmdline} {
		if strings.Contains(a, no) {
			t.Errorf("argv without a NIC has %q: %s", no, a)
		}
	}
	c.NIC = &NIC{MAC: "52:54:00:12:34:56", MTU: 1500}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	a = argsOf(t, c)
	for _, want := range []string{
		"-netdev stream,id=net0,server=off,addr.type=fd,addr.str=9",
		"-device virtio-net-device,netdev=net0,mac=52:54:00:12:34:56,host_mtu=1500",
		wire.NetCmdline,
	} {
		if !strings.Contains(a, want) {
			t.Errorf("argv lacks %q: %s", want, a)
		}
	}
	c.NIC = &NIC{MAC: "52:54:00:12:34", MTU: 70000}
	err := c.validate()
	if err == nil || !strings.Contains(err.Error(), "MAC") || !strings.Contains(err.Error(), "MTU") {
		t.Errorf("bad NIC: %v", err)
	}
}

// `bench net`'s baselines replace only the netdev: slirp, or a passt
// socket; anything else is refused rather than put into QEMU's options.
func TestArgsNICBaselines(t *testing.T) {
	c := Config{QEMU: "q", Kernel: "/k", Accel: TCG, Secret: make([]byte, 32)}
	for baseline, want := range map[string]string{
		BaselineSlirp:   "-netdev user,id=net0 ",
		"/tmp/x/p.sock": "-netdev stream,id=net0,server=off,addr.type=unix,addr.path=/tmp/x/p.sock ",
	} {
		c.NIC = &NIC{MAC: "52:54:00:12:34:56", MTU: 1500, Baseline: baseline}
		if err := c.validate(); err != nil {
			t.Fatal(err)
		}
		a := argsOf(t, c)
		if !strings.Contains(a, want) || strings.Contains(a, "addr.type=fd") {
			t.Errorf("%s: argv lacks %q or passes the host stack's socket: %s", baseline, want, a)
		}
	}
	for _, bad := range []string{"user", "rel/p.sock", "/tmp/p.sock,fd=3"} {
		c.NIC = &NIC{MAC: "52:54:00:12:34:56", MTU: 1500, Baseline: bad}
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "baseline") {
			t.Errorf("baseline %q: %v", bad, err)
		}
	}
}
