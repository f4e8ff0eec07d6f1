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

func TestArgsKeepSecretsOffTheCommandLine(t *testing.T) {
	c := Config{QEMU: "q", Kernel: "/k", Initramfs: "/i", Policy: policy.Sandbox{MemoryMiB: 256, VCPUs: 2}, Accel: TCG, TSCkHz: 1000,
		Secret: []byte("0123456789abcdef-secret"), Shares: []Share{{Tag: "t", HostPath: "/h", ReadOnly: true}}}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	a := strings.Join(c.args("/run/vm", "/run/vm/console.log"), " ")
	for _, want := range []string{"-M microvm", "-accel tcg", "-m 256M", "-smp 2", "-nodefaults", "-no-reboot",
		"tsc=reliable", "tsc_early_khz=1000", "file=/run/vm/secret", "readonly=on", "mount_tag=t"} {
		if !strings.Contains(a, want) {
			t.Errorf("argv lacks %q: %s", want, a)
		}
	}
	if strings.Contains(a, "secret\"") || strings.Contains(a, "6162636465662d736563726574") || strings.Contains(a, "-secret") {
		t.Errorf("secret material on the QEMU command line: %s", a)
	}
	kvm := c
	kvm.Accel = KVM
	if a := strings.Join(kvm.args("/d", "/c"), " "); strings.Contains(a, "tsc=reliable") || !strings.Contains(a, "-cpu host") {
		t.Errorf("kvm argv: %s", a)
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
	a := strings.Join(c.args("/run/vm", "/run/vm/console.log"), " ")
	for _, no := range []string{"-netdev", "virtio-net", wire.NetCmdline} {
		if strings.Contains(a, no) {
			t.Errorf("argv without a NIC has %q: %s", no, a)
		}
	}
	c.NIC = &NIC{MAC: "52:54:00:12:34:56", MTU: 1500}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	a = strings.Join(c.args("/run/vm", "/run/vm/console.log"), " ")
	for _, want := range []string{
		"-netdev stream,id=net0,server=off,addr.type=unix,addr.path=/run/vm/net.sock",
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
		a := strings.Join(c.args("/run/vm", "/run/vm/console.log"), " ")
		if !strings.Contains(a, want) || strings.Contains(a, NetSocket) {
			t.Errorf("%s: argv lacks %q or names %s: %s", baseline, want, NetSocket, a)
		}
	}
	for _, bad := range []string{"user", "rel/p.sock", "/tmp/p.sock,fd=3"} {
		c.NIC = &NIC{MAC: "52:54:00:12:34:56", MTU: 1500, Baseline: bad}
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "baseline") {
			t.Errorf("baseline %q: %v", bad, err)
		}
	}
}
