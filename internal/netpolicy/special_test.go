package netpolicy

import (
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	cases := map[string]string{
		"8.8.8.8": "", "1.1.1.1": "", "2606:4700::1111": "", "140.82.112.3": "",
		"10.1.2.3":               "private",
		"172.16.0.1":             "private",
		"172.31.255.255":         "private",
		"192.168.1.1":            "private",
		"127.0.0.1":              "loopback",
		"127.255.0.9":            "loopback",
		"169.254.1.1":            "link-local",
		"169.254.169.254":        "cloud metadata",
		"100.64.0.1":             "shared address space (CGNAT)",
		"100.127.255.255":        "shared address space (CGNAT)",
		"224.0.0.1":              "multicast",
		"239.255.255.250":        "multicast",
		"255.255.255.255":        "broadcast",
		"0.0.0.0":                "this network (unspecified)",
		"192.0.2.1":              "documentation (TEST-NET-1)",
		"198.51.100.7":           "documentation (TEST-NET-2)",
		"203.0.113.9":            "documentation (TEST-NET-3)",
		"198.18.0.1":             "benchmarking",
		"240.0.0.1":              "reserved",
		"::":                     "unspecified",
		"::1":                    "loopback",
		"fe80::1":                "link-local",
		"fc00::1":                "unique local (ULA)",
		"fd12:3456::1":           "unique local (ULA)",
		"fd00:ec2::254":          "cloud metadata",
		"ff02::1":                "multicast",
		"2001:db8::1":            "documentation",
		"::ffff:127.0.0.1":       "loopback",
		"::ffff:10.0.0.1":        "private",
		"::ffff:169.254.169.254": "cloud metadata",
		"64:ff9b::a00:1":         "private",
		"64:ff9b::7f00:1":        "loopback",
		"::127.0.0.1":            "IPv4-compatible (deprecated)",
		"2002:7f00:1::":          "6to4",
		"2001::1":                "IETF protocol assignments",
		"4000::1":                "not global unicast",
		"fe80::1%eth0":           "scoped address",
	}
	for s, want := range cases {
		public, why := Classify(netip.MustParseAddr(s))
		if public != (want == "") || why != want {
			t.Errorf("Classify(%s) = %v, %q; want %q", s, public, why, want)
		}
	}
	if public, _ := Classify(netip.Addr{}); public {
		t.Error("the zero Addr is public")
	}
	// Mapped NAT64 of a public address is public.
	if public, why := Classify(netip.MustParseAddr("64:ff9b::808:808")); !public {
		t.Errorf("NAT64 of 8.8.8.8: %s", why)
	}
}
