package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/netstack"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/wire"
)

// Forwarded is one port forward of a running sandbox: where the host
// listens (the port picked, when the policy said 0) and the guest port.
type Forwarded struct {
	Host      netip.AddrPort
	GuestPort uint16
}

// NetStats are the network counters of a sandbox (zero without network).
type NetStats = netstack.Stats

// nic is the device vmm gives a VM whose policy has a network.
func (c Config) nic() *vmm.NIC {
	if !c.Policy.HasNetwork() {
		return nil
	}
	g := netstack.GuestConfig(c.MTU)
	return &vmm.NIC{MAC: g.MAC.String(), MTU: g.MTU, Baseline: c.NetBaseline}
}

// netConner is a Machine with a network device (vmm.Machine).
type netConner interface{ NetConn() net.Conn }

// startNetwork starts the box's stack on m's network device and its port
// forwards, and says what the guest must configure. It returns nil values
// when the policy has no network. On error nothing is left running.
func startNetwork(cfg Config, m Machine) (*netstack.Stack, *wire.Network, []Forwarded, error) {
	if !cfg.Policy.HasNetwork() {
		return nil, nil, nil, nil
	}
	if cfg.NetBaseline != "" {
		// A baseline enforces nothing: refuse a policy that says otherwise.
		if cfg.Policy.Network.Mode != netpolicy.ModePublic || len(cfg.Policy.Network.HostPorts) > 0 || len(cfg.Policy.Ports) > 0 {
			return nil, nil, nil, errors.New("a network baseline takes the public policy only (it enforces nothing), without host ports or forwards")
		}
		return nil, guestNetwork(netstack.GuestConfig(cfg.MTU)), nil, nil
	}
	nc, ok := m.(netConner)
	if !ok || nc.NetConn() == nil {
		return nil, nil, nil, errors.New("the policy has a network but the machine has no network device")
	}
	pol := cfg.Policy.Network // the stack keeps a pointer: give it its own copy
	name := cfg.Name
	st, err := netstack.New(nc.NetConn(), netstack.Config{
		Policy:   &pol,
		Resolver: cfg.Resolver,
		MTU:      cfg.MTU,
		OnEvent:  func(e netstack.Event) { cfg.OnEvent(netEvent(name, e)) },
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("starting the network: %w", err)
	}
	var fwds []Forwarded
	for _, f := range cfg.Policy.Ports {
		addr, err := st.Forward(f.Host.String(), int(f.GuestPort))
		if err != nil {
			st.Close()
			return nil, nil, nil, fmt.Errorf("port forward %s: %w", f, err)
		}
		fwds = append(fwds, Forwarded{Host: addr.(*net.TCPAddr).AddrPort(), GuestPort: f.GuestPort})
	}
	return st, guestNetwork(st.Guest()), fwds, nil
}

// guestNetwork is what the guest is told to configure. QEMU's user
// networking and passt (bench baselines) accept the same addressing.
func guestNetwork(g netstack.Guest) *wire.Network {
	return &wire.Network{
		MAC:     g.MAC.String(),
		Address: g.Addr.String(),
		Gateway: g.Gateway.String(),
		DNS:     g.DNS.String(),
		MTU:     g.MTU,
	}
}

// netEvent is the audit event of one decision of box's stack.
func netEvent(box string, e netstack.Event) event.Data {
	f := event.NetFlow{
		Box: box, Proto: e.Proto, Name: e.Name, Port: int(e.Port), Reason: e.Reason,
		BytesIn: e.BytesIn, BytesOut: e.BytesOut, DurationMS: float64(e.Duration.Microseconds()) / 1000,
	}
	if e.IP.IsValid() {
		f.IP = e.IP.String()
	}
	if e.Kind == netstack.Allowed {
		return event.NetAllowed{NetFlow: f}
	}
	return event.NetDenied{NetFlow: f}
}

// DialGuest connects from the host to TCP port in the guest through the
// box's network (the gateway address, as a port forward does), without
// opening any host listener. It fails when the sandbox has no network or
// nothing listens on the port.
func (s *Sandbox) DialGuest(ctx context.Context, port uint16) (net.Conn, error) {
	if s.net == nil {
		return nil, errors.New("dialling a guest port: the sandbox has no network")
	}
	return s.net.DialGuest(ctx, port)
}
