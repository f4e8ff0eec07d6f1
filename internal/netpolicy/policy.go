// Package netpolicy is the typed network policy of one box and every decision
// made under it: which DNS names the guest may resolve, which flows it may
// open, which server names it may speak to on an open flow, and the limits on
// how much it may do. It depends on the standard library only, so the spec
// parser, the CLI and the host network stack share one definition.
//
// A policy fails closed: in allowlist mode anything no rule allows is denied,
// and deny rules win over allow rules. The decisions carry a reason string
// written for an audit event.
package netpolicy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Mode is what kind of network a box gets.
type Mode int

const (
	// ModeNone: no network device at all (the default).
	ModeNone Mode = iota
	// ModePublic: the public internet only (the seed's `network: true`).
	// Every special-purpose range (private, loopback, link-local, CGNAT,
	// multicast, cloud metadata, ...) is denied; there is no DNS pinning, so
	// an IP literal of a public host works.
	ModePublic
	// ModeAllowlist: only what Allow names, minus what Deny names, with DNS
	// pinning: a flow to an address needs a prior answer for an allowed name
	// (or a CIDR rule).
	ModeAllowlist
)

func (m Mode) String() string {
	switch m {
	case ModeNone:
		return "none"
	case ModePublic:
		return "public"
	case ModeAllowlist:
		return "allowlist"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Policy is one box's network policy. The zero value is ModeNone.
// Build it with Parse, Public or by hand; it is read-only once a Box uses it.
type Policy struct {
	Mode Mode
	// Allow and Deny are used in ModeAllowlist only.
	Allow []Rule
	Deny  []Rule
	// HostPorts are the host loopback ports the guest may reach through the
	// gateway address. Nothing else on host loopback is reachable that way.
	HostPorts []uint16
	// Hosts maps names to addresses ahead of any resolver (like --add-host).
	// A mapping does not allow the name: an Allow rule must still match it.
	// In an allowlist it does exempt the mapped address from the
	// special-range rule, for that name only, because the user wrote the
	// address down (tests map a name to 127.0.0.1). In the public mode it
	// exempts nothing: a mapping to a private or loopback address is
	// refused like any such answer.
	Hosts map[string]netip.Addr
	// Limits bound what the box may do; zero fields take DefaultLimits.
	Limits Limits
	// Services are the ports of the run's service stages this box depends
	// on, reachable by name in every mode (see Service). They are filled in
	// by the stage engine when the services are ready, never from a spec.
	Services []Service
}

// Public is the policy of `network: true`.
func Public() *Policy { return &Policy{Mode: ModePublic} }

// Rule is one allow or deny entry: a name pattern or an address prefix,
// optionally narrowed to a port range. Exactly one of Name and Prefix is set.
type Rule struct {
	// Name is a lower-case domain name without a trailing dot. With Wildcard
	// it is the suffix of `*.suffix`, which matches one label or more in front
	// of the suffix (a.example.com and a.b.example.com) but not the suffix
	// itself: allow `example.com` too for the apex.
	Name     string
	Wildcard bool
	// Prefix is a masked CIDR (a single address is a /32 or /128).
	Prefix netip.Prefix
	// Ports is the port range the rule covers; the zero value covers all.
	Ports PortRange
}

// String renders the rule the way it is written in a spec.
func (r Rule) String() string {
	var host string
	switch {
	case r.Wildcard:
		host = "*." + r.Name
	case r.Name != "":
		host = r.Name
	case r.Prefix.IsSingleIP():
		host = r.Prefix.Addr().String()
	default:
		host = r.Prefix.String()
	}
	if r.Ports.Any() {
		return host
	}
	if r.Name == "" && r.Prefix.Addr().Is6() {
		host = "[" + host + "]"
	}
	return host + ":" + r.Ports.String()
}

// MatchName reports whether the rule is a name rule matching name
// (already normalised by NormalizeName).
func (r Rule) MatchName(name string) bool {
	if r.Name == "" {
		return false
	}
	if !r.Wildcard {
		return name == r.Name
	}
	return len(name) > len(r.Name)+1 && strings.HasSuffix(name, r.Name) && name[len(name)-len(r.Name)-1] == '.'
}

// MatchAddr reports whether the rule is a prefix rule covering addr and port.
func (r Rule) MatchAddr(addr netip.Addr, port uint16) bool {
	return r.Name == "" && r.Prefix.IsValid() && r.Prefix.Contains(addr.Unmap()) && r.Ports.Contains(port)
}

// PortRange is an inclusive range of ports; the zero value is every port.
type PortRange struct{ Lo, Hi uint16 }

// Any reports whether the range covers every port.
func (p PortRange) Any() bool { return p.Lo == 0 && p.Hi == 0 }

// Contains reports whether port is in the range.
func (p PortRange) Contains(port uint16) bool { return p.Any() || (p.Lo <= port && port <= p.Hi) }

func (p PortRange) String() string {
	if p.Any() {
		return "*"
	}
	if p.Lo == p.Hi {
		return fmt.Sprint(p.Lo)
	}
	return fmt.Sprintf("%d-%d", p.Lo, p.Hi)
}

// Limits bound one box. Exceeding one denies new flows with a reason; the
// byte budget also cuts the flows that are open when it runs out (a budget
// a single flow could overrun forever would bound nothing). Nothing is ever
// slowed down or stalled.
type Limits struct {
	// ConnsPerSecond is the most new flows (TCP or UDP) in any one-second window.
	ConnsPerSecond int
	// MaxFlows is the most flows open at once.
	MaxFlows int
	// MaxBytes is the most bytes, both directions, over the box's life;
	// 0 is no budget.
	MaxBytes int64
}

// The defaults apply where a policy leaves a limit at zero. They follow the
// seed's (50/s, 64 flows) with room for package managers, which open many
// connections at once. There is no default byte budget.
const (
	DefaultConnsPerSecond = 100
	DefaultMaxFlows       = 256
)

// Effective returns the limits with defaults filled in.
func (l Limits) Effective() Limits {
	if l.ConnsPerSecond == 0 {
		l.ConnsPerSecond = DefaultConnsPerSecond
	}
	if l.MaxFlows == 0 {
		l.MaxFlows = DefaultMaxFlows
	}
	return l
}

// AllowsHostPort reports whether the host loopback port is declared.
func (p *Policy) AllowsHostPort(port uint16) bool {
	for _, hp := range p.HostPorts {
		if hp == port {
			return true
		}
	}
	return false
}
