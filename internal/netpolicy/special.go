package netpolicy

import "net/netip"

// special is one special-purpose range and why it is not the public internet.
type special struct {
	prefix netip.Prefix
	why    string
}

// Special-purpose ranges from the IANA IPv4 and IPv6 special-purpose address
// registries (RFC 6890 and successors), plus the cloud metadata addresses.
// Order matters: the first match names the reason, so the narrow entries
// (metadata, broadcast) come before the ranges that contain them.
var specialV4 = mustSpecials([]string{
	"169.254.169.254/32", "cloud metadata",
	"255.255.255.255/32", "broadcast",
	"0.0.0.0/8", "this network (unspecified)",
	"10.0.0.0/8", "private",
	"100.64.0.0/10", "shared address space (CGNAT)",
	"127.0.0.0/8", "loopback",
	"169.254.0.0/16", "link-local",
	"172.16.0.0/12", "private",
	"192.0.0.0/24", "IETF protocol assignments",
	"192.0.2.0/24", "documentation (TEST-NET-1)",
	"192.31.196.0/24", "AS112",
	"192.52.193.0/24", "AMT",
	"192.88.99.0/24", "6to4 relay anycast",
	"192.168.0.0/16", "private",
	"192.175.48.0/24", "AS112",
	"198.18.0.0/15", "benchmarking",
	"198.51.100.0/24", "documentation (TEST-NET-2)",
	"203.0.113.0/24", "documentation (TEST-NET-3)",
	"224.0.0.0/4", "multicast",
	"240.0.0.0/4", "reserved",
})

var specialV6 = mustSpecials([]string{
	"fd00:ec2::254/128", "cloud metadata",
	"::/128", "unspecified",
	"::1/128", "loopback",
	"::/96", "IPv4-compatible (deprecated)",
	"64:ff9b:1::/48", "local-use NAT64",
	"100::/64", "discard-only",
	"2001::/23", "IETF protocol assignments",
	"2001:db8::/32", "documentation",
	"2002::/16", "6to4",
	"3fff::/20", "documentation",
	"5f00::/16", "segment routing SIDs",
	"fc00::/7", "unique local (ULA)",
	"fe80::/10", "link-local",
	"fec0::/10", "site-local (deprecated)",
	"ff00::/8", "multicast",
})

var globalUnicastV6 = netip.MustParsePrefix("2000::/3")
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

func mustSpecials(pairs []string) []special {
	out := make([]special, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, special{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// Classify reports whether addr is a public unicast address, and if not, why
// (e.g. "private", "loopback", "cloud metadata"). IPv4-mapped IPv6 addresses
// and the well-known NAT64 prefix are judged by the IPv4 address they carry;
// an address with a zone, or an IPv6 address outside global unicast 2000::/3,
// is never public.
func Classify(addr netip.Addr) (public bool, why string) {
	if !addr.IsValid() {
		return false, "invalid address"
	}
	if addr.Zone() != "" {
		return false, "scoped address"
	}
	if addr.Is4In6() {
		return Classify(addr.Unmap())
	}
	if addr.Is6() && nat64.Contains(addr) {
		b := addr.As16()
		return Classify(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	table := specialV4
	if addr.Is6() {
		table = specialV6
	}
	for _, s := range table {
		if s.prefix.Contains(addr) {
			return false, s.why
		}
	}
	if addr.Is6() && !globalUnicastV6.Contains(addr) {
		return false, "not global unicast"
	}
	return true, ""
}
