package netpolicy

import (
	"errors"
	"fmt"
	"net/netip"
)

// Service is one port of a service stage of the same run that the box, a
// stage depending on it, may reach by the service's name. The guest
// resolves Name and connects to Port; the host dials Target, the service
// VM's own forward of that port on host loopback. Nothing else of host
// loopback becomes reachable: a flow to a service goes to exactly the
// Target of a declared (Name, Port), whatever the rest of the policy says.
type Service struct {
	// Name is the service stage's name as a DNS name (NormalizeName form).
	Name string
	// Port is the service's TCP port in its guest, which the box connects to.
	Port uint16
	// Target is where the host dials for it.
	Target netip.AddrPort
}

// Check reports what is wrong with a service built by hand.
func (s Service) Check() error {
	n, err := NormalizeName(s.Name)
	switch {
	case err != nil:
		return fmt.Errorf("service name %q: %w", s.Name, err)
	case n != s.Name:
		return fmt.Errorf("service name %q: want it normalised (%s)", s.Name, n)
	case s.Port == 0:
		return errors.New("service port must be 1-65535")
	case !s.Target.IsValid() || s.Target.Port() == 0:
		return fmt.Errorf("service %s:%d has no target", s.Name, s.Port)
	case !s.Target.Addr().IsLoopback():
		// A service is another VM's forward on this host: a target
		// elsewhere would be a way around the rest of the policy.
		return fmt.Errorf("service %s:%d: target %s is not on host loopback", s.Name, s.Port, s.Target)
	}
	return nil
}

// IsService reports whether name (normalised) is one of the policy's
// services.
func (p *Policy) IsService(name string) bool {
	for _, s := range p.Services {
		if s.Name == name {
			return true
		}
	}
	return false
}

// ServiceNames returns the policy's service names, each once, in order.
func (p *Policy) ServiceNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range p.Services {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s.Name)
		}
	}
	return out
}

// OpenService decides a flow from the guest to a service of the run, by
// the name its address was answered for, on port. Only a declared
// (name, port) passes, over TCP, whatever the mode; the flow goes to the
// service's Target and counts against the box's limits.
func (b *Box) OpenService(proto Proto, name string, port uint16) (*Flow, Decision) {
	if proto != TCP {
		return nil, deny("service %s: only TCP reaches services", name)
	}
	var target netip.AddrPort
	for _, s := range b.policy.Services {
		if s.Name == name && s.Port == port {
			target = s.Target
			break
		}
	}
	if !target.IsValid() {
		return nil, deny("service %s has no port %d (its ports are the ones its step declared)", name, port)
	}
	if d := b.admit(); !d.Allow {
		return nil, d
	}
	return &Flow{box: b, Dst: target}, allow("service %s port %d of this run", name, port)
}
