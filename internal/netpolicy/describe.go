package netpolicy

import (
	"fmt"
	"sort"
	"strings"
)

// Describe says in a few lines what the policy lets a box reach, for
// `voidbox doctor`: the mode, the rules, host ports and names, limits.
func (p *Policy) Describe() []string {
	var out []string
	switch p.Mode {
	case ModeNone:
		return []string{"no network: the VM has no network device"}
	case ModePublic:
		out = append(out, "the public internet only (network: true): private, loopback, link-local, CGNAT, "+
			"multicast, reserved and cloud-metadata addresses are denied; any name resolves")
	case ModeAllowlist:
		var names, addrs []string
		for _, r := range p.Allow {
			if r.Name != "" {
				names = append(names, r.String())
			} else {
				addrs = append(addrs, r.String())
			}
		}
		out = append(out, "allowlist, fail-closed: anything not allowed is denied")
		if len(names) > 0 {
			out = append(out, "names: "+strings.Join(names, ", ")+
				" (flows only to addresses answered for them; the TLS SNI or HTTP Host must be the name)")
		}
		if len(addrs) > 0 {
			out = append(out, "addresses: "+strings.Join(addrs, ", "))
		}
		if len(names) == 0 && len(addrs) == 0 {
			out = append(out, "nothing is allowed: every name and address is denied")
		}
		if len(p.Deny) > 0 {
			var deny []string
			for _, r := range p.Deny {
				deny = append(deny, r.String())
			}
			out = append(out, "denied even so: "+strings.Join(deny, ", "))
		}
	}
	if len(p.HostPorts) > 0 {
		var ports []string
		for _, hp := range p.HostPorts {
			ports = append(ports, fmt.Sprint(hp))
		}
		out = append(out, "host loopback ports at 10.0.2.2: "+strings.Join(ports, ", "))
	} else {
		out = append(out, "host loopback: not reachable (no host_ports)")
	}
	if len(p.Hosts) > 0 {
		var hs []string
		for n, a := range p.Hosts {
			hs = append(hs, n+" → "+a.String())
		}
		sort.Strings(hs)
		out = append(out, "hosts: "+strings.Join(hs, ", "))
	}
	l := p.Limits.Effective()
	budget := "no byte budget"
	if l.MaxBytes > 0 {
		budget = fmt.Sprintf("%d bytes in all", l.MaxBytes)
	}
	out = append(out, fmt.Sprintf("limits: %d new flows per second, %d open at once, %s", l.ConnsPerSecond, l.MaxFlows, budget))
	return out
}
