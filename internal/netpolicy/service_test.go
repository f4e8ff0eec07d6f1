package netpolicy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestServices(t *testing.T) {
	target := netip.MustParseAddrPort("127.0.0.1:41000")
	p := &Policy{Mode: ModeAllowlist, Services: []Service{{Name: "web", Port: 8080, Target: target}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	b := NewBox(p, nil)
	if d := b.DNS("WEB."); !d.Allow {
		t.Errorf("service name refused: %s", d.Reason)
	}
	if d := b.DNS("other"); d.Allow {
		t.Error("a name that is no service allowed")
	}
	f, d := b.OpenService(TCP, "web", 8080)
	if !d.Allow || f.Dst != target || f.NeedsName() {
		t.Fatalf("open web:8080: %+v %+v", f, d)
	}
	f.Close()
	for _, c := range []struct {
		proto Proto
		name  string
		port  uint16
		want  string
	}{
		{TCP, "web", 80, "service web has no port 80"},
		{UDP, "web", 8080, "only TCP reaches services"},
		{TCP, "db", 8080, "service db has no port 8080"},
	} {
		if _, d := b.OpenService(c.proto, c.name, c.port); d.Allow || !strings.Contains(d.Reason, c.want) {
			t.Errorf("%s %s:%d: %+v", c.proto, c.name, c.port, d)
		}
	}
	// A box with only services reaches nothing else: its allowlist is empty.
	if _, d := b.Open(TCP, target); d.Allow {
		t.Error("the service's target reached directly")
	}

	for _, bad := range []struct {
		s    Service
		want string
	}{
		{Service{Name: "Web", Port: 1, Target: target}, "want it normalised"},
		{Service{Name: "web", Port: 0, Target: target}, "port must be 1-65535"},
		{Service{Name: "web", Port: 1}, "has no target"},
		{Service{Name: "web", Port: 1, Target: netip.MustParseAddrPort("10.0.0.5:80")}, "not on host loopback"},
	} {
		if err := bad.s.Check(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v", bad.s, err)
		}
	}
	none := &Policy{Services: p.Services}
	if err := none.Validate(); err == nil || !strings.Contains(err.Error(), "services") {
		t.Errorf("services without a network: %v", err)
	}
}
