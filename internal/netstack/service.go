package netstack

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// serviceRange holds the addresses the guest is told for the run's
// services (Policy.Services), one per name: the top /24 of the
// benchmarking range, which aliases never reach (guestAddr stops before
// it), so a service address is never a real destination nor an alias.
var serviceRange = netip.MustParsePrefix("198.19.255.0/24")

// services gives each service name of the policy its address, in the
// policy's order. Past the range's 254 addresses a name gets none: the
// guest cannot resolve it (fail closed).
func (n *Stack) assignServices() {
	a := serviceRange.Addr().Next()
	for _, name := range n.cfg.Policy.ServiceNames() {
		if !serviceRange.Contains(a) || a == netip.MustParseAddr("198.19.255.255") {
			return
		}
		n.serviceAddr[name], n.serviceName[a] = a, name
		a = a.Next()
	}
}

// serviceFor is the guest address of service name (dns.Server.Service).
func (n *Stack) serviceFor(name string) (netip.Addr, bool) {
	a, ok := n.serviceAddr[name]
	return a, ok
}

// DialGuest opens a TCP connection from the gateway to port in the guest,
// as a port forward does, without a host listener: the stage engine's
// readiness probe of a service's port. It fails when nothing listens there
// (the guest answers the SYN with a RST).
func (n *Stack) DialGuest(ctx context.Context, port uint16) (net.Conn, error) {
	if port == 0 {
		return nil, fmt.Errorf("guest port 0")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(n.ctx, cancel) // the stack closing ends the dial too
	defer stop()
	to := tcpip.FullAddress{NIC: nicID, Addr: tcpAddr(guestAddr.Addr()), Port: port}
	return gonet.DialContextTCP(ctx, n.s, to, ipv4.ProtocolNumber)
}
