package netpolicy

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// ParseRule parses one allow or deny entry:
//
//	api.github.com        an exact name, any port
//	*.example.com         one label or more in front of example.com
//	example.com:443       a name on one port
//	example.com:8000-8100 a name on a port range
//	10.0.0.0/8, 1.2.3.4   a CIDR or a single address
//	2001:db8::/32         an IPv6 CIDR; with a port: [2001:db8::/32]:443
//
// It rejects `*` and `*.` (a wildcard needs a domain), URLs, bad CIDRs
// (including ones with host bits set), port 0 and ports above 65535.
func ParseRule(s string) (Rule, error) {
	if strings.TrimSpace(s) != s {
		return Rule{}, errors.New("leading or trailing space")
	}
	if s == "" {
		return Rule{}, errors.New("empty rule")
	}
	if strings.Contains(s, "://") {
		return Rule{}, errors.New("a rule is a host name or CIDR, not a URL")
	}
	if strings.ContainsAny(s, "/?#@") && !looksLikePrefix(s) {
		return Rule{}, errors.New("a rule is a host name or CIDR, not a URL or path")
	}
	host, port, err := splitPort(s)
	if err != nil {
		return Rule{}, err
	}
	var r Rule
	if port != "" {
		if r.Ports, err = parsePortRange(port); err != nil {
			return Rule{}, err
		}
	}
	if strings.ContainsAny(host, ":/") || isIPv4ish(host) {
		if r.Prefix, err = parsePrefix(host); err != nil {
			return Rule{}, err
		}
		return r, nil
	}
	if strings.HasPrefix(host, "*") {
		suffix, ok := strings.CutPrefix(host, "*.")
		if !ok || suffix == "" || suffix == "." {
			return Rule{}, errors.New("a wildcard needs a domain, as in *.example.com")
		}
		host, r.Wildcard = suffix, true
	}
	if strings.Contains(host, "*") {
		return Rule{}, errors.New("a wildcard is allowed only as the whole first label (*.example.com)")
	}
	if r.Name, err = NormalizeName(host); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// looksLikePrefix reports whether s has the shape addr/bits (maybe
// bracketed, maybe with a port), so "/" is not taken for a URL path.
func looksLikePrefix(s string) bool {
	s = strings.TrimPrefix(s, "[")
	i := strings.IndexByte(s, '/')
	if i < 0 || strings.ContainsAny(s, "?#@") {
		return false
	}
	_, err := netip.ParseAddr(s[:i])
	return err == nil
}

// isIPv4ish: all digits and dots is an attempt at an IPv4 address, so it
// gets an address error rather than a name error.
func isIPv4ish(s string) bool {
	for _, c := range []byte(s) {
		if c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// splitPort separates an optional :port suffix. Bare IPv6 (more than one
// colon, no brackets) has no port.
func splitPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("missing ']'")
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if rest[0] != ':' {
			return "", "", errors.New("unexpected text after ']'")
		}
		if rest == ":" {
			return "", "", errors.New("empty port")
		}
		return host, rest[1:], nil
	}
	switch strings.Count(s, ":") {
	case 0:
		return s, "", nil
	case 1:
		i := strings.IndexByte(s, ':')
		if i == len(s)-1 {
			return "", "", errors.New("empty port")
		}
		if i == 0 {
			return "", "", errors.New("empty host")
		}
		return s[:i], s[i+1:], nil
	}
	return s, "", nil
}

func parsePortRange(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	if !isRange {
		return PortRange{l, l}, nil
	}
	h, err := parsePort(hi)
	if err != nil {
		return PortRange{}, err
	}
	if h < l {
		return PortRange{}, errors.New("port range ends before it starts")
	}
	return PortRange{l, h}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.Atoi(s)
	if err != nil || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, errors.New("port is not a number")
	}
	if n < 1 || n > 65535 {
		return 0, errors.New("port must be 1-65535")
	}
	return uint16(n), nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, errors.New("not a valid IP address or CIDR")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not a valid CIDR")
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, errors.New("write an IPv4 CIDR in IPv4 form")
	}
	if p.Masked() != p {
		return netip.Prefix{}, errors.New("CIDR has host bits set; did you mean " + p.Masked().String() + "?")
	}
	return p, nil
}
