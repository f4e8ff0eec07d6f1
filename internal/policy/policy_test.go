package policy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

func TestZeroIsValidAndDefaults(t *testing.T) {
	if err := (Sandbox{}).Validate(); err != nil {
		t.Fatal(err)
	}
	d := Sandbox{}.WithDefaults()
	if d.MemoryMiB != DefaultMemoryMiB || d.VCPUs != DefaultVCPUs || d.OutputLimit != DefaultOutputLimit {
		t.Errorf("defaults %+v", d)
	}
}

func TestValidateNamesEveryField(t *testing.T) {
	err := Sandbox{MemoryMiB: 64, VCPUs: 65, DiskMiB: 8, Timeout: -1, Env: map[string]string{"A=B": "x", "OK": "a\x00b"},
		AllowedCommands: []string{"sh", "/bin/sh", "sh"}, OutputLimit: -5}.Validate()
	ps := AsProblems(err)
	var fields []string
	for _, p := range ps {
		fields = append(fields, p.Field)
	}
	want := "memory_mb vcpus disk_mb timeout env.A=B env.OK allowed_commands[1] allowed_commands[2] output_limit"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("fields %q, want %q (%v)", got, want, err)
	}
	if ps[7].Message != `duplicate command "sh"` || ps[7].Key() != "allowed_commands" || ps[4].Key() != "env" {
		t.Errorf("problems %+v", ps)
	}
}

func TestDisk(t *testing.T) {
	for _, c := range []struct {
		p  Sandbox
		ok bool
	}{
		{Sandbox{DiskMiB: 16}, true}, {Sandbox{DiskMiB: 256}, true}, {Sandbox{MemoryMiB: 1024, DiskMiB: 512}, true},
		{Sandbox{DiskMiB: 15}, false}, {Sandbox{DiskMiB: 257}, false}, {Sandbox{MemoryMiB: 128, DiskMiB: 65}, false}, {Sandbox{DiskMiB: -1}, false},
	} {
		err := c.p.Validate()
		if (err == nil) != c.ok {
			t.Errorf("memory %d disk %d: %v", c.p.MemoryMiB, c.p.DiskMiB, err)
		}
	}
	ps := AsProblems(Sandbox{MemoryMiB: 256, DiskMiB: 200}.Validate())
	if len(ps) != 1 || ps[0].Field != "disk_mb" || len(ps[0].Also) != 1 || ps[0].Also[0] != "memory_mb" {
		t.Errorf("disk over memory: %+v", ps)
	}
	if err := CheckDiskMiB(300, 512); !errors.Is(err, ErrDiskOverMemory) || !strings.Contains(err.Error(), "300 MiB is more than half of the 512 MiB") {
		t.Errorf("CheckDiskMiB: %v", err)
	}
	if p := (Sandbox{DiskMiB: 100}).Wire(); p.DiskBytes != 100<<20 || p.Limits.OutputBytes != DefaultOutputLimit {
		t.Errorf("wire %+v", p)
	}
}

// TestAllowlistNilAndEmpty: nil is no allowlist, empty allows nothing, and
// Clone and Wire keep which.
func TestAllowlistNilAndEmpty(t *testing.T) {
	empty := Sandbox{AllowedCommands: []string{}}
	if c := empty.Clone(); c.AllowedCommands == nil {
		t.Error("Clone turned an empty allowlist into none")
	}
	if w := empty.Wire(); w.AllowedCommands == nil {
		t.Error("Wire turned an empty allowlist into none")
	}
	if w := (Sandbox{}).Wire(); w.AllowedCommands != nil {
		t.Error("Wire invented an allowlist")
	}
}

func TestCloneSharesNothing(t *testing.T) {
	p := Sandbox{Env: map[string]string{"A": "1"}, AllowedCommands: []string{"sh"}}
	c := p.Clone()
	c.Env["A"], c.AllowedCommands[0] = "2", "awk"
	if p.Env["A"] != "1" || p.AllowedCommands[0] != "sh" {
		t.Errorf("clone shares with the original: %+v", p)
	}
}

func TestNetworkProblemsNameSpecPaths(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	err := Sandbox{
		Network: netpolicy.Policy{Mode: netpolicy.ModeAllowlist, Allow: []netpolicy.Rule{{Name: "ok.com"}, {Name: "Bad.com"}},
			Limits: netpolicy.Limits{MaxFlows: -1}},
		Ports:   []netpolicy.Forward{{Host: netip.AddrPortFrom(lo, 80), GuestPort: 80}, {Host: netip.AddrPortFrom(lo, 80), GuestPort: 81}, {GuestPort: 1}},
		CACerts: []byte("not pem"),
	}.Validate()
	var fields []string
	for _, p := range AsProblems(err) {
		fields = append(fields, p.Field)
	}
	want := "network.allow[1] network.limits.max_flows ports[1] ports[2] ca_certificates"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("fields %q, want %q (%v)", got, want, err)
	}
	if ps := AsProblems(err); ps[0].Key() != "network" || !strings.Contains(ps[0].Message, `"Bad.com"`) {
		t.Errorf("problems %+v", ps)
	}
	err = Sandbox{Ports: []netpolicy.Forward{{Host: netip.AddrPortFrom(lo, 0), GuestPort: 80}}}.Validate()
	if ps := AsProblems(err); len(ps) != 1 || ps[0].Field != "ports" || !strings.Contains(ps[0].Message, "need a network") {
		t.Errorf("ports without a network: %v", err)
	}
	if err := (Sandbox{Network: *netpolicy.Public()}).Validate(); err != nil {
		t.Errorf("public network: %v", err)
	}
}

func TestCloneNetwork(t *testing.T) {
	s := Sandbox{Network: netpolicy.Policy{Mode: netpolicy.ModeAllowlist, Allow: []netpolicy.Rule{{Name: "a.com"}}}, CACerts: []byte("x")}
	c := s.Clone()
	c.Network.Allow[0].Name, c.CACerts[0] = "b.com", 'y'
	if s.Network.Allow[0].Name != "a.com" || s.CACerts[0] != 'x' {
		t.Errorf("clone shares the network policy: %+v", s)
	}
}

func TestAttachShellNeedsSh(t *testing.T) {
	for _, c := range []struct {
		p    Sandbox
		fail bool
	}{
		{Sandbox{AttachShell: true}, false},
		{Sandbox{AttachShell: true, AllowedCommands: []string{"ls", "sh"}}, false},
		{Sandbox{AttachShell: true, AllowedCommands: []string{}}, true},
		{Sandbox{AttachShell: true, AllowedCommands: []string{"ls"}}, true},
		{Sandbox{AllowedCommands: []string{"ls"}}, false},
	} {
		ps := AsProblems(c.p.Validate())
		if got := len(ps) > 0; got != c.fail {
			t.Errorf("%+v: problems %v", c.p, ps)
		}
		if c.fail && ps[0].Key() != "attach_shell" {
			t.Errorf("problem at %q", ps[0].Key())
		}
	}
}
