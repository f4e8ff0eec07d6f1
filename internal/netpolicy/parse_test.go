package netpolicy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	good := map[string]Rule{
		"api.github.com":        {Name: "api.github.com"},
		"API.GitHub.com.":       {Name: "api.github.com"},
		"*.example.com":         {Name: "example.com", Wildcard: true},
		"*.test":                {Name: "test", Wildcard: true},
		"example.com:443":       {Name: "example.com", Ports: PortRange{443, 443}},
		"example.com:8000-8100": {Name: "example.com", Ports: PortRange{8000, 8100}},
		"10.0.0.0/8":            {Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		"10.0.0.0/8:443":        {Prefix: netip.MustParsePrefix("10.0.0.0/8"), Ports: PortRange{443, 443}},
		"1.2.3.4":               {Prefix: netip.MustParsePrefix("1.2.3.4/32")},
		"1.2.3.4:53":            {Prefix: netip.MustParsePrefix("1.2.3.4/32"), Ports: PortRange{53, 53}},
		"2001:db8::/32":         {Prefix: netip.MustParsePrefix("2001:db8::/32")},
		"[2001:db8::/32]:443":   {Prefix: netip.MustParsePrefix("2001:db8::/32"), Ports: PortRange{443, 443}},
		"[2001:db8::1]:1-2":     {Prefix: netip.MustParsePrefix("2001:db8::1/128"), Ports: PortRange{1, 2}},
		"::ffff:1.2.3.4":        {Prefix: netip.MustParsePrefix("1.2.3.4/32")},
		"_srv.example.com":      {Name: "_srv.example.com"},
		"x.example.com:65535":   {Name: "x.example.com", Ports: PortRange{65535, 65535}},
	}
	for in, want := range good {
		got, err := ParseRule(in)
		if err != nil || got != want {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                               "empty",
		" example.com":                   "space",
		"*":                              "wildcard needs a domain",
		"*.":                             "wildcard needs a domain",
		"*.*.com":                        "first label",
		"a.*.com":                        "first label",
		"foo*.com":                       "first label",
		"http://x":                       "not a URL",
		"https://example.com/":           "not a URL",
		"example.com/path":               "not a URL",
		"10.0.0.0/33":                    "not a valid CIDR",
		"10.0.0.1/8":                     "did you mean 10.0.0.0/8",
		"10.0.0.0/8/9":                   "CIDR",
		"::ffff:10.0.0.0/104":            "IPv4 form",
		"1.2.3.256":                      "not a valid IP address",
		"example.com:0":                  "1-65535",
		"example.com:65536":              "1-65535",
		"example.com:":                   "empty port",
		"example.com:http":               "not a number",
		"example.com:+1":                 "not a number",
		"example.com:9-8":                "ends before",
		":443":                           "empty host",
		"[::1":                           "missing ']'",
		"[::1]x":                         "after ']'",
		"exa mple.com":                   "invalid character",
		"a..b":                           "empty label",
		"-a.com":                         "'-'",
		strings.Repeat("a", 64) + ".com": "63",
		"fe80::1%eth0":                   "not a valid IP",
		"user@example.com":               "not a URL",
	}
	for in, want := range bad {
		_, err := ParseRule(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRule(%q) error = %v; want it to contain %q", in, err, want)
		}
	}
}

func TestRuleStringRoundTrips(t *testing.T) {
	for _, s := range []string{"api.github.com", "*.example.com", "example.com:443", "example.com:1-2",
		"10.0.0.0/8", "1.2.3.4", "1.2.3.4:53", "2001:db8::/32", "[2001:db8::/32]:443", "[::1]:22"} {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		if r.String() != s {
			t.Errorf("%q renders as %q", s, r.String())
		}
	}
}

func TestWildcardMatchesOneLabelOrMore(t *testing.T) {
	r, _ := ParseRule("*.example.com")
	for name, want := range map[string]bool{
		"a.example.com": true, "a.b.example.com": true, "example.com": false,
		"aexample.com": false, "example.com.evil": false, "a.example.co": false,
	} {
		if r.MatchName(name) != want {
			t.Errorf("*.example.com matches %q = %v, want %v", name, !want, want)
		}
	}
}

func TestParseModes(t *testing.T) {
	for raw, want := range map[any]Mode{nil: ModeNone, false: ModeNone, true: ModePublic} {
		p, err := Parse(raw)
		if err != nil || p.Mode != want {
			t.Errorf("Parse(%v) = %v, %v", raw, p, err)
		}
	}
	if _, err := Parse("yes"); err == nil || !strings.Contains(err.Error(), "network: want true, false or a map") {
		t.Errorf("Parse(\"yes\") error = %v", err)
	}
	p, err := Parse(map[string]any{})
	if err != nil || p.Mode != ModeAllowlist || len(p.Allow) != 0 {
		t.Errorf("empty map: %+v, %v", p, err)
	}
}

func TestParseAllowlist(t *testing.T) {
	p, err := Parse(map[string]any{
		"allow":      []any{"example.test", "*.pkg.test:443", "10.1.0.0/16"},
		"deny":       []string{"bad.pkg.test"},
		"host_ports": []any{11434, float64(8080), "9000"},
		"hosts":      map[string]any{"Example.Test": "127.0.0.1", "v6.test": "::ffff:127.0.0.2"},
		"limits":     map[string]any{"conns_per_second": 5, "max_flows": 2, "max_bytes": int64(1 << 20)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Allow) != 3 || len(p.Deny) != 1 || p.Deny[0].Name != "bad.pkg.test" {
		t.Errorf("rules: %+v / %+v", p.Allow, p.Deny)
	}
	if len(p.HostPorts) != 3 || !p.AllowsHostPort(11434) || !p.AllowsHostPort(9000) || p.AllowsHostPort(22) {
		t.Errorf("host ports: %v", p.HostPorts)
	}
	if p.Hosts["example.test"] != netip.MustParseAddr("127.0.0.1") || p.Hosts["v6.test"] != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("hosts: %v", p.Hosts)
	}
	if p.Limits != (Limits{ConnsPerSecond: 5, MaxFlows: 2, MaxBytes: 1 << 20}) {
		t.Errorf("limits: %+v", p.Limits)
	}
}

// Every bad entry is reported at once, each naming its path.
func TestParseErrorsNamePaths(t *testing.T) {
	_, err := Parse(map[string]any{
		"allow":      []any{"ok.test", "ok2.test", "*", 7},
		"deny":       "x",
		"host_ports": []any{0, 70000, 1.5},
		"hosts":      map[string]any{"a.test": "not-an-ip", "*bad": "1.2.3.4", "b.test": 5},
		"limits":     map[string]any{"max_flows": 0, "speed": 1},
		"alow":       []any{},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`allow[2]: "*": a wildcard needs a domain`,
		`allow[3]: want a string, got a number`,
		`deny: want a list, got a string`,
		`host_ports[0]: "0": port must be 1-65535`,
		`host_ports[1]: "70000": port must be 1-65535`,
		`host_ports[2]: "1.5": want an integer`,
		`hosts.a.test: "not-an-ip": not an IP address`,
		`hosts.*bad: "*bad": invalid character in name`,
		`hosts.b.test: want an IP address, got a number`,
		`limits.max_flows: "0": must be at least 1`,
		`limits.speed: "1": unknown field`,
		`alow: unknown field`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("error is not a *FieldError: %T", err)
	}
}

func TestParseForward(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	good := map[string]Forward{
		"8080:80":         {netip.AddrPortFrom(lo, 8080), 80},
		"0:80":            {netip.AddrPortFrom(lo, 0), 80},
		"8080:80/tcp":     {netip.AddrPortFrom(lo, 8080), 80},
		"0.0.0.0:8080:80": {netip.MustParseAddrPort("0.0.0.0:8080"), 80},
		"[::1]:8080:80":   {netip.MustParseAddrPort("[::1]:8080"), 80},
		"10.1.2.3:1:2":    {netip.MustParseAddrPort("10.1.2.3:1"), 2},
	}
	for in, want := range good {
		got, err := ParseForward(in)
		if err != nil || got != want {
			t.Errorf("ParseForward(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if err == nil && got.Check() != nil {
			t.Errorf("ParseForward(%q).Check() = %v", in, got.Check())
		}
	}
	bad := map[string]string{
		"":             "HOST_PORT:GUEST_PORT",
		"80":           "a guest port alone",
		"8080:0":       "guest port: port must be 1-65535",
		"8080:70000":   "guest port",
		"x:80":         "host port: port is not a number",
		"host:8080:80": "not an IP address",
		"8080:80/udp":  "only tcp",
		" 8080:80":     "HOST_PORT",
	}
	for in, want := range bad {
		_, err := ParseForward(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseForward(%q) error = %v; want %q", in, err, want)
		}
	}
}

func TestValidateHandBuilt(t *testing.T) {
	good := []Policy{
		{},
		*Public(),
		{Mode: ModeAllowlist, Allow: []Rule{{Name: "example.com"}, {Prefix: netip.MustParsePrefix("10.0.0.0/8"), Ports: PortRange{443, 443}}},
			Hosts: map[string]netip.Addr{"example.test": netip.MustParseAddr("127.0.0.1")}, HostPorts: []uint16{11434}},
	}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := map[string]Policy{
		"allow[0]":                {Mode: ModeAllowlist, Allow: []Rule{{Name: "Example.com"}}},
		"deny[0]":                 {Mode: ModeAllowlist, Deny: []Rule{{Prefix: netip.MustParsePrefix("10.0.0.1/8")}}},
		"allow[1]":                {Mode: ModeAllowlist, Allow: []Rule{{Name: "a.com"}, {}}},
		"allow: rules need":       {Mode: ModePublic, Allow: []Rule{{Name: "a.com"}}},
		"host_ports[0]":           {Mode: ModePublic, HostPorts: []uint16{0}},
		"hosts.x.test":            {Mode: ModePublic, Hosts: map[string]netip.Addr{"x.test": {}}},
		"limits.max_flows":        {Mode: ModePublic, Limits: Limits{MaxFlows: -1}},
		"limits.conns_per_second": {Mode: ModePublic, Limits: Limits{ConnsPerSecond: 2_000_000}},
		"limits.max_bytes":        {Mode: ModePublic, Limits: Limits{MaxBytes: -5}},
		"host_ports: the box has": {HostPorts: []uint16{80}},
		"allow[0]: \"*.\"":        {Mode: ModeAllowlist, Allow: []Rule{{Wildcard: true}}},
	}
	for want, p := range bad {
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%+v) = %v; want %q", p, err, want)
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("Validate(%+v): %T is no *FieldError", p, err)
		}
	}
}

func TestCloneSharesNothing(t *testing.T) {
	p := Policy{Mode: ModeAllowlist, Allow: []Rule{{Name: "a.com"}}, HostPorts: []uint16{1},
		Hosts: map[string]netip.Addr{"a.com": netip.MustParseAddr("1.2.3.4")}}
	c := p.Clone()
	c.Allow[0].Name, c.HostPorts[0], c.Hosts["a.com"] = "b.com", 2, netip.Addr{}
	if p.Allow[0].Name != "a.com" || p.HostPorts[0] != 1 || !p.Hosts["a.com"].IsValid() {
		t.Fatalf("clone shares with the original: %+v", p)
	}
}

func TestDescribe(t *testing.T) {
	p, err := Parse(map[string]any{"allow": []any{"api.github.com", "*.x.org", "10.0.0.0/8:443"}, "deny": []any{"bad.x.org"},
		"host_ports": []any{11434}, "hosts": map[string]any{"a.test": "127.0.0.1"}, "limits": map[string]any{"max_bytes": 1000}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.Describe(), "\n")
	for _, want := range []string{"allowlist, fail-closed", "names: api.github.com, *.x.org", "addresses: 10.0.0.0/8:443",
		"denied even so: bad.x.org", "host loopback ports at 10.0.2.2: 11434", "hosts: a.test → 127.0.0.1",
		"limits: 100 new flows per second, 256 open at once, 1000 bytes in all"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if d := Public().Describe(); !strings.Contains(d[0], "public internet only") || !strings.Contains(d[1], "not reachable") {
		t.Errorf("public: %v", d)
	}
	if d := (&Policy{}).Describe(); len(d) != 1 || !strings.Contains(d[0], "no network device") {
		t.Errorf("none: %v", d)
	}
	empty, _ := Parse(map[string]any{"allow": []any{}})
	if d := strings.Join(empty.Describe(), "\n"); !strings.Contains(d, "nothing is allowed") {
		t.Errorf("empty allowlist: %s", d)
	}
}
