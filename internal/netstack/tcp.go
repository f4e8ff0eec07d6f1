package netstack

import (
	"net"
	"net/netip"
	"strings"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// onTCP decides one guest SYN. The order is the promise: policy first, then
// the upstream dial, and only then the guest's handshake completes — so a
// denied or unreachable destination is a RST to the guest at once, and no
// host socket is ever opened for a denied flow.
func (n *Stack) onTCP(r *tcp.ForwarderRequest) {
	if !n.track(nil) {
		r.Complete(true)
		return
	}
	defer n.untrack(nil)
	id := r.ID()
	dst := netip.AddrPortFrom(netipAddr(id.LocalAddress), id.LocalPort)

	var flow *netpolicy.Flow
	var d netpolicy.Decision
	ev := Event{Proto: "tcp", Port: dst.Port()}
	if name, ok := n.serviceName[dst.Addr()]; ok {
		flow, d = n.box.OpenService(netpolicy.TCP, name, dst.Port())
		ev.IP = dst.Addr()
		if flow != nil {
			ev.IP = flow.Dst.Addr()
		}
	} else if dst.Addr() == gatewayIP {
		flow, d = n.box.OpenHostPort(netpolicy.TCP, dst.Port())
		ev.IP = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	} else {
		real := netip.AddrPortFrom(n.realAddr(dst.Addr()), dst.Port())
		flow, d = n.box.Open(netpolicy.TCP, real)
		ev.IP = real.Addr()
	}
	ev.Reason = d.Reason
	if !d.Allow {
		r.Complete(true)
		n.deny(ev)
		return
	}
	ev.Name = strings.Join(flow.Names, ",")
	if name, ok := n.serviceName[dst.Addr()]; ok {
		ev.Name = name
	}
	defer flow.Close()

	start := n.cfg.Now()
	dialer := net.Dialer{Timeout: n.cfg.DialTimeout}
	up, err := dialer.DialContext(n.ctx, "tcp", flow.Dst.String())
	if err != nil {
		// The policy allowed it; the destination did not answer. The
		// guest gets a RST, the audit trail an allowed flow that moved
		// nothing.
		r.Complete(true)
		ev.Kind, ev.Reason = Allowed, d.Reason+"; upstream: "+err.Error()
		n.report(ev)
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	r.Complete(false)
	if terr != nil {
		up.Close() // the guest gave up during the dial
		ev.Kind, ev.Reason = Allowed, d.Reason+"; the guest gave up during the upstream connect"
		n.report(ev)
		return
	}
	ep.SocketOptions().SetKeepAlive(true)
	guest := gonet.NewTCPConn(&wq, ep)
	p := &pipe{n: n, flow: flow, guest: guest, ep: ep, up: up, ev: ev, start: start, sniff: flow.NeedsName()}
	p.run()
}

// abortable is what pipe needs of the guest side's endpoint.
type abortable interface{ Abort() }

var _ abortable = tcpip.Endpoint(nil)
