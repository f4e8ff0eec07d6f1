package voidbox

import (
	"errors"
	"fmt"
	"slices"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// NetworkPolicy is what a box may reach (Policy.Network). The zero value is
// no network device at all; PublicNetwork is the public internet only; an
// allowlist (AllowNetwork, or a NetworkPolicy with Mode NetworkAllowlist
// built by hand) allows only what its rules name, fail-closed, with every
// flow and DNS query decided on the host. See docs/design.md.
type NetworkPolicy = netpolicy.Policy

// The parts of a NetworkPolicy.
type (
	NetworkMode = netpolicy.Mode
	NetRule     = netpolicy.Rule
	NetPorts    = netpolicy.PortRange
	NetLimits   = netpolicy.Limits
	// PortForward carries connections to a host address into a guest port.
	PortForward = netpolicy.Forward
)

// Network modes.
const (
	NetworkNone      = netpolicy.ModeNone
	NetworkPublic    = netpolicy.ModePublic
	NetworkAllowlist = netpolicy.ModeAllowlist
)

// PublicNetwork is the seed's `network: true`: the public internet only
// (private, loopback, link-local, CGNAT, multicast and cloud-metadata
// addresses are denied).
func PublicNetwork() NetworkPolicy { return *netpolicy.Public() }

// AllowNetwork is an allowlist of rules written as in a spec
// ("api.github.com", "*.example.com", "pypi.org:443", "10.0.0.0/8"). Add
// host ports, hosts and limits to the result. Every bad rule is reported.
func AllowNetwork(rules ...string) (NetworkPolicy, error) {
	p := NetworkPolicy{Mode: NetworkAllowlist}
	var errs []error
	for i, s := range rules {
		r, err := netpolicy.ParseRule(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("allow[%d]: %q: %w", i, s, err))
			continue
		}
		p.Allow = append(p.Allow, r)
	}
	if err := errors.Join(errs...); err != nil {
		return NetworkPolicy{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return p, nil
}

// ParseNetRule parses one allow or deny rule as a spec writes it.
func ParseNetRule(s string) (NetRule, error) { return netpolicy.ParseRule(s) }

// ParsePortForward parses a port forward as `docker -p` writes it
// ("8080:80": host 127.0.0.1:8080 to guest port 80).
func ParsePortForward(s string) (PortForward, error) { return netpolicy.ParseForward(s) }

// Network sets the box's network policy.
func (b *Box) Network(n NetworkPolicy) *Box { b.b.Policy.Network = n.Clone(); return b }

// Ports adds port forwards from the host into the box (it needs a network).
func (b *Box) Ports(f ...PortForward) *Box {
	b.b.Policy.Ports = append(slices.Clip(b.b.Policy.Ports), f...)
	return b
}

// TrustCA adds PEM CA certificates the guest's TLS clients trust besides
// Debian's bundle.
func (b *Box) TrustCA(pem []byte) *Box {
	b.b.Policy.CACerts = append(slices.Clip(b.b.Policy.CACerts), pem...)
	return b
}
