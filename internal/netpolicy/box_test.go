package netpolicy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, raw any) *Policy {
	t.Helper()
	p, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func wantDecision(t *testing.T, what string, d Decision, allow bool, reason string) {
	t.Helper()
	if d.Allow != allow || !strings.Contains(d.Reason, reason) {
		t.Errorf("%s = %+v; want allow=%v with reason containing %q", what, d, allow, reason)
	}
}

func TestNoneDeniesEverything(t *testing.T) {
	b := NewBox(&Policy{}, nil)
	wantDecision(t, "dns", b.DNS("example.com"), false, "no network")
	_, d := b.Open(TCP, ap("8.8.8.8:443"))
	wantDecision(t, "flow", d, false, "no network")
	_, d = b.OpenHostPort(TCP, 11434)
	wantDecision(t, "host port", d, false, "no network")
}

func TestPublicMode(t *testing.T) {
	b := NewBox(Public(), nil)
	wantDecision(t, "dns", b.DNS("anything.example"), true, "public")
	wantDecision(t, "dns bad name", b.DNS("bad name"), false, "bad name")
	f, d := b.Open(TCP, ap("8.8.8.8:443"))
	wantDecision(t, "public ip literal", d, true, "public")
	if f == nil || f.ByName {
		t.Fatalf("flow %+v", f)
	}
	// No SNI pinning in public mode: the public address was allowed as such.
	wantDecision(t, "sni", f.CheckName("tls", "whatever.example"), true, "allowed by address")
	f.Close()
	for s, why := range map[string]string{
		"10.0.0.1:80": "private", "127.0.0.1:11434": "loopback", "169.254.169.254:80": "cloud metadata",
		"100.64.1.1:80": "CGNAT", "[fd00:ec2::254]:80": "cloud metadata", "[::ffff:192.168.1.1]:80": "private",
		"224.0.0.251:5353": "multicast", "[fe80::1]:22": "link-local",
	} {
		_, d := b.Open(TCP, ap(s))
		wantDecision(t, s, d, false, why)
	}
	kept, dropped := b.Answer("rebind.example", addrs("93.184.216.34", "10.0.0.5", "127.0.0.1"))
	if len(kept) != 1 || len(dropped) != 2 || !strings.Contains(dropped[0].Reason, "private") {
		t.Errorf("answer filter: kept %v dropped %v", kept, dropped)
	}
	_, d = b.OpenHostPort(TCP, 11434)
	wantDecision(t, "host port", d, false, "not in host_ports")
}

func TestAllowlistDNS(t *testing.T) {
	b := NewBox(mustParse(t, map[string]any{
		"allow": []any{"api.github.com", "*.pkg.test:443", "10.0.0.0/8"},
		"deny":  []any{"evil.pkg.test"},
	}), nil)
	wantDecision(t, "exact", b.DNS("API.github.com."), true, "allow[0] api.github.com")
	wantDecision(t, "wildcard", b.DNS("a.b.pkg.test"), true, "allow[1] *.pkg.test:443")
	wantDecision(t, "apex not covered by wildcard", b.DNS("pkg.test"), false, "not in the allowlist")
	wantDecision(t, "deny wins", b.DNS("evil.pkg.test"), false, "deny[0] evil.pkg.test")
	wantDecision(t, "other", b.DNS("github.com"), false, "not in the allowlist")
	if d := NewBox(mustParse(t, map[string]any{}), nil).DNS("example.com"); d.Allow {
		t.Error("an empty allow list allowed a name")
	}
}

func TestDNSPinning(t *testing.T) {
	b := NewBox(mustParse(t, map[string]any{
		"allow": []any{"api.example", "tls.example:443", "5.6.7.0/24:22"},
		"deny":  []any{"9.9.9.9"},
	}), nil)
	// Without a prior answer an allowed name's IP is just an IP.
	_, d := b.Open(TCP, ap("1.2.3.4:443"))
	wantDecision(t, "no lookup", d, false, "not answered for an allowed name")

	kept, dropped := b.Answer("api.example", addrs("1.2.3.4", "9.9.9.9"))
	if len(kept) != 1 || len(dropped) != 1 || !strings.Contains(dropped[0].Reason, "deny rule") {
		t.Fatalf("kept %v dropped %v", kept, dropped)
	}
	f, d := b.Open(TCP, ap("1.2.3.4:443"))
	wantDecision(t, "after lookup", d, true, "pinned to api.example")
	if !f.ByName || len(f.Names) != 1 || !f.NeedsName() {
		t.Fatalf("flow %+v", f)
	}
	wantDecision(t, "sni ok", f.CheckName("tls", "API.example"), true, "matches")
	wantDecision(t, "sni other", f.CheckName("tls", "other.example"), false, "not a name 1.2.3.4 was answered for")
	wantDecision(t, "no sni", f.CheckName("tls", ""), false, "no server name")
	wantDecision(t, "ip as host", f.CheckName("http", "1.2.3.4"), false, "not a valid IP address or name")
	f.Close()
	f.Close() // idempotent

	// UDP flows pin the same way.
	f, d = b.Open(UDP, ap("1.2.3.4:3478"))
	wantDecision(t, "udp after lookup", d, true, "pinned")
	f.Close()

	// A port-limited name pins only its ports.
	b.Answer("tls.example", addrs("2.2.2.2"))
	_, d = b.Open(TCP, ap("2.2.2.2:80"))
	wantDecision(t, "port outside rule", d, false, "tls.example not allowed on port 80")
	f, d = b.Open(TCP, ap("2.2.2.2:443"))
	wantDecision(t, "port inside rule", d, true, "pinned")
	f.Close()

	// CIDR rules need no lookup, on their ports only; any name passes but a denied one.
	f, d = b.Open(TCP, ap("5.6.7.8:22"))
	wantDecision(t, "cidr", d, true, "allow[2] 5.6.7.0/24:22")
	wantDecision(t, "cidr any name", f.CheckName("tls", "whatever.example"), true, "by address")
	if f.NeedsName() {
		t.Error("a CIDR flow waits for a name no deny rule names")
	}
	f.Close()
	// A name in deny makes every flow wait for its name.
	nb := NewBox(mustParse(t, map[string]any{"allow": []any{"5.6.7.0/24"}, "deny": []any{"bad.example:443"}}), nil)
	for port, want := range map[string]bool{"5.6.7.8:443": true, "5.6.7.8:80": false} {
		f, d = nb.Open(TCP, ap(port))
		wantDecision(t, "cidr "+port, d, true, "allow[0]")
		if f.NeedsName() != want {
			t.Errorf("%s: NeedsName %v, want %v", port, !want, want)
		}
		f.Close()
	}
	_, d = b.Open(TCP, ap("5.6.7.8:23"))
	wantDecision(t, "cidr other port", d, false, "not answered")
	_, d = b.Open(TCP, ap("9.9.9.9:443"))
	wantDecision(t, "deny cidr", d, false, "deny[0] 9.9.9.9")
}

// Rebinding: an allowed name answering a private address gets it dropped
// from the answer and a flow to it denied, unless hosts: maps that name to
// exactly that address.
func TestRebindingAndHosts(t *testing.T) {
	b := NewBox(mustParse(t, map[string]any{
		"allow": []any{"example.test", "rebind.test", "other.test"},
		"hosts": map[string]any{"example.test": "127.0.0.1"},
	}), nil)
	kept, dropped := b.Answer("rebind.test", addrs("10.0.0.5", "127.0.0.1"))
	if len(kept) != 0 || len(dropped) != 2 {
		t.Fatalf("rebind kept %v", kept)
	}
	wantDecision(t, "dropped reason", Decision{Reason: dropped[0].Reason}, false, "rebind.test answered 10.0.0.5, which is private")
	_, d := b.Open(TCP, ap("10.0.0.5:80"))
	wantDecision(t, "rebound flow", d, false, "10.0.0.5 is private")

	kept, _ = b.Answer("example.test", addrs("127.0.0.1"))
	if len(kept) != 1 {
		t.Fatal("hosts entry dropped")
	}
	f, d := b.Open(TCP, ap("127.0.0.1:8443"))
	wantDecision(t, "hosts entry", d, true, "pinned to example.test")
	f.Close()
	// Another allowed name cannot borrow the exemption: its answer of the
	// same loopback address is dropped, and its pin (forced here) refused.
	if kept, _ := b.Answer("other.test", addrs("127.0.0.1")); len(kept) != 0 {
		t.Error("other.test kept a loopback answer")
	}
	b.pin("other.test", addrs("127.0.0.1"))
	f, d = b.Open(TCP, ap("127.0.0.1:8443"))
	wantDecision(t, "still allowed for the mapped name", d, true, "pinned to example.test")
	wantDecision(t, "sni other.test", f.CheckName("tls", "other.test"), false, "not a name")
	f.Close()
}

func TestHostPorts(t *testing.T) {
	b := NewBox(mustParse(t, map[string]any{"host_ports": []any{11434}}), nil)
	f, d := b.OpenHostPort(TCP, 11434)
	wantDecision(t, "declared", d, true, "host_ports")
	wantDecision(t, "name on host port", f.CheckName("http", "10.0.2.2"), true, "by address")
	if f.NeedsName() {
		t.Error("a host port flow waits for a name no rule can deny")
	}
	f.Close()
	_, d = b.OpenHostPort(TCP, 22)
	wantDecision(t, "undeclared", d, false, "host port 22 is not in host_ports")
	_, d = b.OpenHostPort(UDP, 11434)
	wantDecision(t, "udp", d, false, "only TCP")
	_, d = b.Open(TCP, ap("127.0.0.1:11434"))
	wantDecision(t, "loopback directly", d, false, "loopback")
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestLimits(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := NewBox(mustParse(t, map[string]any{
		"allow":  []any{"1.0.0.0/8"},
		"limits": map[string]any{"conns_per_second": 3, "max_flows": 2, "max_bytes": 100},
	}), clk.now)
	open := func() (*Flow, Decision) { return b.Open(TCP, ap("1.1.1.1:80")) }

	f1, d := open()
	wantDecision(t, "1", d, true, "allow")
	f2, _ := open()
	_, d = open()
	wantDecision(t, "3rd concurrent", d, false, "flow limit reached (2 open)")
	f1.Close()
	f3, d := open()
	wantDecision(t, "after a close", d, true, "allow")
	f2.Close()
	f3.Close()
	// 3 starts within this second already: the 4th trips the rate.
	_, d = open()
	wantDecision(t, "rate", d, false, "connection rate limit reached (3 per second)")
	clk.t = clk.t.Add(999 * time.Millisecond)
	_, d = open()
	wantDecision(t, "still within the second", d, false, "rate")
	clk.t = clk.t.Add(time.Millisecond)
	f4, d := open()
	wantDecision(t, "a second later", d, true, "allow")

	if !f4.Count(60) || !f4.Count(40) {
		t.Error("within budget cut")
	}
	if f4.Count(1) {
		t.Error("over budget not cut")
	}
	f4.Close()
	clk.t = clk.t.Add(time.Hour)
	_, d = open()
	wantDecision(t, "budget spent", d, false, "byte limit reached (100 bytes)")
	// A denied flow never counts: the policy answers before the limits.
	_, d = b.Open(TCP, ap("8.8.8.8:80"))
	wantDecision(t, "policy first", d, false, "not answered")
}

func TestPinCaps(t *testing.T) {
	b := NewBox(mustParse(t, map[string]any{"allow": []any{"*.test"}}), nil)
	a := addrs("1.2.3.4")
	for i := 0; i < maxNamesPerAddr+10; i++ {
		b.Answer(fmt.Sprintf("n%d.test", i), a)
	}
	if n := len(b.pinnedNames(a[0])); n != maxNamesPerAddr {
		t.Errorf("%d names pinned to one address", n)
	}
}

// In the public mode every name is allowed, so a hosts entry to a special
// address must not open it: the answer is refused.
func TestPublicHostsExemptNothing(t *testing.T) {
	pub := Public()
	pub.Hosts = map[string]netip.Addr{"example.test": netip.MustParseAddr("127.0.0.1"), "pub.test": netip.MustParseAddr("93.184.216.34")}
	b := NewBox(pub, nil)
	kept, dropped := b.Answer("example.test", []netip.Addr{pub.Hosts["example.test"]})
	if len(kept) != 0 || len(dropped) != 1 || !strings.Contains(dropped[0].Reason, "loopback") {
		t.Errorf("public hosts entry to loopback: kept %v, dropped %v", kept, dropped)
	}
	if kept, _ := b.Answer("pub.test", []netip.Addr{pub.Hosts["pub.test"]}); len(kept) != 1 {
		t.Errorf("public hosts entry to a public address dropped")
	}
}
