package netstack

import (
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// Forward listens on hostAddr ("127.0.0.1:8080"; an empty host means
// 127.0.0.1, never every interface; port 0 picks one) and turns each
// connection into a TCP connection to guestPort in the guest, from the
// gateway address. It returns the address listened on. The listener lives
// until Close. Forwarded flows are the host's own doing: the policy is not
// asked, but they are reported (Proto "forward") and counted.
func (n *Stack) Forward(hostAddr string, guestPort int) (net.Addr, error) {
	if guestPort < 1 || guestPort > 65535 {
		return nil, fmt.Errorf("forward to guest port %d: want 1-65535", guestPort)
	}
	host, port, err := net.SplitHostPort(hostAddr)
	if err != nil {
		return nil, fmt.Errorf("forward %q: %w", hostAddr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("forward %q: %w", hostAddr, err)
	}
	if !n.track(ln) {
		ln.Close()
		return nil, errClosing
	}
	go func() { // joined n.wg in track
		defer n.untrack(ln)
		n.acceptForward(ln, uint16(guestPort))
	}()
	return ln.Addr(), nil
}

func (n *Stack) acceptForward(ln net.Listener, guestPort uint16) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !n.track(c) {
			c.Close()
			return
		}
		go func() { // joined n.wg in track
			defer n.untrack(c)
			n.forwardConn(c, guestPort)
		}()
	}
}

func (n *Stack) forwardConn(c net.Conn, guestPort uint16) {
	ev := Event{Proto: "forward", IP: guestAddr.Addr(), Port: guestPort, Name: c.RemoteAddr().String(),
		Reason: fmt.Sprintf("forward from %s", c.LocalAddr())}
	start := n.cfg.Now()
	to := tcpip.FullAddress{NIC: nicID, Addr: tcpAddr(guestAddr.Addr()), Port: guestPort}
	g, err := gonet.DialContextTCP(n.ctx, n.s, to, ipv4.ProtocolNumber)
	if err != nil {
		// Nothing listens in the guest: the host's connection is closed,
		// and the flow (the host's own, so never a denial) moved nothing.
		c.Close()
		ev.Kind, ev.Reason = Allowed, ev.Reason+"; guest port: "+err.Error()
		n.report(ev)
		return
	}
	n.dropCloser(c) // the pipe registers both ends itself
	// No budget: forwarded flows are the host's, so they get a flow of
	// their own that no limit counts against.
	p := &pipe{n: n, flow: netpolicy.Unlimited(netip.AddrPortFrom(guestAddr.Addr(), guestPort)), guest: g, up: c, ev: ev, start: start}
	p.run()
}
