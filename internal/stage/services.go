package stage

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// Services and their dependants. A service that declares ports gets a
// network device (an empty allowlist when its box has no network: nothing
// goes out) and a host forward of each port on 127.0.0.1, port picked by
// the host. Once it is ready, the runner records those forwards under the
// service's name; a stage depending on it directly gets them as
// netpolicy.Services, so its guest resolves the service's name and reaches
// exactly its declared ports, through the forwards. A stage without a
// network of its own gets an empty allowlist beside them. Nothing is
// published beyond loopback, and a dependant reaches no other host port.

// servicePortProblems checks a box's ServicePorts.
func (b *Box) servicePortProblems() []error {
	if len(b.ServicePorts) == 0 {
		return nil
	}
	var errs []error
	if !b.Service {
		errs = append(errs, errors.New("service ports: only a service (mode: service) declares them"))
	}
	if _, err := serviceName(b.Name); err != nil {
		errs = append(errs, err)
	}
	seen := map[uint16]bool{}
	for _, p := range b.ServicePorts {
		switch {
		case p == 0:
			errs = append(errs, errors.New("service ports: port must be 1-65535"))
		case seen[p]:
			errs = append(errs, fmt.Errorf("service ports: port %d given twice", p))
		}
		seen[p] = true
	}
	return errs
}

// serviceName is the DNS name dependants reach a service by: its stage
// name in lower case.
func serviceName(stage string) (string, error) {
	n, err := netpolicy.NormalizeName(stage)
	if err != nil {
		return "", fmt.Errorf("service ports: the stage name %q is not a DNS name its dependants could resolve: %w", stage, err)
	}
	return n, nil
}

// withServicePorts is p for a service that declares ports: a network
// (an empty allowlist if it had none) and a forward of each port.
func withServicePorts(b *Box, p policy.Sandbox) policy.Sandbox {
	if len(b.ServicePorts) == 0 {
		return p
	}
	p = p.Clone()
	if !p.HasNetwork() {
		p.Network = netpolicy.Policy{Mode: netpolicy.ModeAllowlist}
	}
	for _, port := range b.ServicePorts {
		p.Ports = append(p.Ports, netpolicy.Forward{Host: netip.AddrPortFrom(netpolicy.LoopbackV4, 0), GuestPort: port})
	}
	return p
}

// serviceEndpoints are the services of the run that are ready, by stage
// name: the forwards of their declared ports.
type serviceEndpoints map[string][]netpolicy.Service

// publishService records a ready service's forwards for its dependants.
// It is called before the engine hears the service is ready, so every
// dependant started after finds them.
func (r *Runner) publishService(b *Box, sb *sandbox.Sandbox) {
	if len(b.ServicePorts) == 0 {
		return
	}
	name, _ := serviceName(b.Name) // checked by Problems
	var eps []netpolicy.Service
	for _, f := range sb.Info().Forwards {
		if slices.Contains(b.ServicePorts, f.GuestPort) {
			eps = append(eps, netpolicy.Service{Name: name, Port: f.GuestPort, Target: f.Host})
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.services == nil {
		r.services = serviceEndpoints{}
	}
	r.services[b.Name] = eps
}

// withServices is p for a stage that depends directly on ready services
// with ports: those ports by name, and an empty allowlist if the stage had
// no network.
func (r *Runner) withServices(stage string, p policy.Sandbox) policy.Sandbox {
	r.mu.Lock()
	var svcs []netpolicy.Service
	for _, dep := range r.deps[stage] {
		svcs = append(svcs, r.services[dep]...)
	}
	r.mu.Unlock()
	if len(svcs) == 0 {
		return p
	}
	p = p.Clone()
	if !p.HasNetwork() {
		p.Network = netpolicy.Policy{Mode: netpolicy.ModeAllowlist}
	}
	p.Network.Services = append(p.Network.Services, svcs...)
	return p
}

// portsReady reports whether every declared port of the service answers
// in its guest.
func portsReady(ctx context.Context, sb *sandbox.Sandbox, ports []uint16) bool {
	for _, port := range ports {
		c, err := sb.DialGuest(ctx, port)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// graphDeps are each node's direct dependencies (data and order).
func graphDeps(g *pipeline.Graph) map[string][]string {
	deps := make(map[string][]string, len(g.Nodes))
	for _, n := range g.Nodes {
		deps[n.ID] = append(slices.Clone(n.Inputs), n.After...)
	}
	return deps
}
