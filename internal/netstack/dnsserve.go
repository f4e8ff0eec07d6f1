package netstack

import (
	"encoding/binary"
	"io"
	"net"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"github.com/voidbox/voidbox/internal/netstack/dns"
)

// DNS is served on the gateway, UDP and TCP port 53. Each UDP query is
// answered in its own goroutine (host lookups take time), at most
// maxDNSInFlight at once; past that, queries are dropped and the guest's
// resolver retries.
const (
	maxDNSInFlight = 64
	dnsTCPIdle     = 10 * time.Second
	maxDNSPerConn  = 256
)

func (n *Stack) serveDNS() error {
	addr := tcpip.FullAddress{NIC: nicID, Addr: tcpAddr(gatewayIP), Port: 53}
	uc, err := gonet.DialUDP(n.s, &addr, nil, ipv4.ProtocolNumber)
	if err != nil {
		return err
	}
	ln, err := gonet.ListenTCP(n.s, addr, ipv4.ProtocolNumber)
	if err != nil {
		uc.Close()
		return err
	}
	if !n.track(uc) {
		uc.Close()
		ln.Close()
		return errClosing
	}
	go func() { // joined n.wg in track
		defer n.untrack(uc)
		n.dnsUDP(uc)
	}()
	if !n.track(ln) {
		ln.Close()
		return errClosing
	}
	go func() { // joined n.wg in track
		defer n.untrack(ln)
		n.dnsTCP(ln)
	}()
	return nil
}

func (n *Stack) dnsUDP(uc *gonet.UDPConn) {
	sem := make(chan struct{}, maxDNSInFlight)
	for {
		buf := make([]byte, 1500)
		m, from, err := uc.ReadFrom(buf)
		if err != nil {
			return
		}
		select {
		case sem <- struct{}{}:
		default:
			continue
		}
		if !n.track(nil) {
			return
		}
		go func() { // joined n.wg in track
			defer n.untrack(nil)
			defer func() { <-sem }()
			if out := n.answer(buf[:m]); out != nil {
				uc.WriteTo(out, from)
			}
		}()
	}
}

func (n *Stack) dnsTCP(ln *gonet.TCPListener) {
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
			defer c.Close()
			n.dnsConn(c)
		}()
	}
}

// dnsConn answers length-prefixed queries (RFC 1035 §4.2.2) one at a time.
func (n *Stack) dnsConn(c net.Conn) {
	var hdr [2]byte
	for i := 0; i < maxDNSPerConn; i++ {
		c.SetReadDeadline(time.Now().Add(dnsTCPIdle))
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		out := n.answer(msg)
		if out == nil {
			return
		}
		binary.BigEndian.PutUint16(hdr[:], uint16(len(out)))
		if _, err := c.Write(append(hdr[:], out...)); err != nil {
			return
		}
	}
}

// answer runs one query through the DNS server and reports it.
func (n *Stack) answer(msg []byte) []byte {
	out, q := n.dns.Answer(n.ctx, msg)
	if out == nil {
		return nil
	}
	n.reportQuery(q)
	return out
}

func (n *Stack) reportQuery(q dns.Query) {
	ev := Event{Proto: "dns", Name: q.Name, Port: 53, Reason: q.Decision.Reason + " (" + q.Type + ": " + q.RCode + ")"}
	if len(q.Addrs) > 0 {
		ev.IP = q.Addrs[0]
	}
	if q.Decision.Allow {
		n.stats.dnsAllowed.Add(1)
		ev.Kind = Allowed
	} else {
		n.stats.dnsDenied.Add(1)
		ev.Kind = Denied
	}
	n.emit(ev)
}
