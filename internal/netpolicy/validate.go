package netpolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
)

// Validate reports every problem of a policy built by hand (Parse checks
// as it reads, so a parsed policy is valid), each as a *FieldError named by
// its path in the spec form (`allow[1]`, `hosts.example.test`,
// `limits.max_flows`), joined; nil when it is usable.
func (p *Policy) Validate() error {
	var errs []error
	add := func(path, value, msg string) {
		errs = append(errs, &FieldError{Path: path, Value: value, Msg: msg})
	}
	switch p.Mode {
	case ModeNone, ModePublic, ModeAllowlist:
	default:
		add("network", "", fmt.Sprintf("unknown mode %d", int(p.Mode)))
	}
	if p.Mode != ModeAllowlist {
		for _, f := range []struct {
			name string
			set  bool
		}{{"allow", len(p.Allow) > 0}, {"deny", len(p.Deny) > 0}} {
			if f.set {
				add(f.name, "", fmt.Sprintf("rules need an allowlist policy (this one is %s)", p.Mode))
			}
		}
	}
	if p.Mode == ModeNone {
		if len(p.HostPorts) > 0 {
			add("host_ports", "", "the box has no network")
		}
		if len(p.Hosts) > 0 {
			add("hosts", "", "the box has no network")
		}
		if len(p.Services) > 0 {
			add("services", "", "the box has no network (a box that only reaches services has an empty allowlist)")
		}
	}
	for i, sv := range p.Services {
		if err := sv.Check(); err != nil {
			add(fmt.Sprintf("services[%d]", i), sv.Name, err.Error())
		}
	}
	for _, l := range []struct {
		name  string
		rules []Rule
	}{{"allow", p.Allow}, {"deny", p.Deny}} {
		for i, r := range l.rules {
			if err := r.check(); err != nil {
				add(fmt.Sprintf("%s[%d]", l.name, i), r.String(), err.Error())
			}
		}
	}
	for i, port := range p.HostPorts {
		if port == 0 {
			add(fmt.Sprintf("host_ports[%d]", i), "0", "port must be 1-65535")
		}
	}
	names := make([]string, 0, len(p.Hosts))
	for n := range p.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if norm, err := NormalizeName(n); err != nil {
			add("hosts."+n, n, err.Error())
		} else if norm != n {
			add("hosts."+n, n, "write the name in lower case without a trailing dot: "+norm)
		}
		if a := p.Hosts[n]; !a.IsValid() || a.Zone() != "" || a.Is4In6() {
			add("hosts."+n, a.String(), "not an IP address (IPv4 in IPv4 form)")
		}
	}
	l := p.Limits
	for _, f := range []struct {
		name string
		v    int64
		max  int64
	}{{"conns_per_second", int64(l.ConnsPerSecond), maxLimit}, {"max_flows", int64(l.MaxFlows), maxLimit}, {"max_bytes", l.MaxBytes, 0}} {
		switch {
		case f.v < 0 && f.max == 0:
			add("limits."+f.name, fmt.Sprint(f.v), "must not be negative (0: no budget)")
		case f.v < 0 || (f.max > 0 && f.v > f.max):
			add("limits."+f.name, fmt.Sprint(f.v), fmt.Sprintf("must be 1-%d (0: the default)", f.max))
		}
	}
	return errors.Join(errs...)
}

// maxLimit bounds the count limits (a rate ring of this many slots is
// allocated per box).
const maxLimit = 1_000_000

// check reports what is wrong with a rule built by hand.
func (r Rule) check() error {
	switch {
	case r.Name != "" && r.Prefix.IsValid():
		return errors.New("a rule is a name or a CIDR, not both")
	case r.Name == "" && !r.Prefix.IsValid():
		return errors.New("empty rule")
	case r.Name != "":
		n, err := NormalizeName(r.Name)
		if err != nil {
			return err
		}
		if n != r.Name {
			return errors.New("write the name in lower case without a trailing dot: " + n)
		}
	case r.Wildcard:
		return errors.New("a wildcard needs a domain, as in *.example.com")
	case r.Prefix.Masked() != r.Prefix:
		return errors.New("CIDR has host bits set; did you mean " + r.Prefix.Masked().String() + "?")
	case r.Prefix.Addr().Is4In6() || r.Prefix.Addr().Zone() != "":
		return errors.New("write an IPv4 CIDR in IPv4 form, without a zone")
	}
	p := r.Ports
	if !p.Any() && (p.Lo == 0 || p.Hi < p.Lo) {
		return errors.New("port range must be 1-65535, low to high")
	}
	return nil
}

// Clone returns a copy of p that shares no slice or map with it.
func (p Policy) Clone() Policy {
	p.Allow = slices.Clone(p.Allow)
	p.Deny = slices.Clone(p.Deny)
	p.HostPorts = slices.Clone(p.HostPorts)
	p.Services = slices.Clone(p.Services)
	if p.Hosts != nil {
		h := make(map[string]netip.Addr, len(p.Hosts))
		for k, v := range p.Hosts {
			h[k] = v
		}
		p.Hosts = h
	}
	return p
}
