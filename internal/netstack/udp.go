package netstack

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// onUDP decides the first datagram of a new UDP flow (DNS to the gateway
// never gets here: a bound endpoint serves it). Returning false leaves the
// datagram unhandled, and the stack answers it with ICMP port unreachable,
// so a denied flow fails at once in the guest.
// gVisor calls this on its packet path: it must not block.
func (n *Stack) onUDP(r *udp.ForwarderRequest) bool {
	id := r.ID()
	dst := netip.AddrPortFrom(netipAddr(id.LocalAddress), id.LocalPort)
	ev := Event{Proto: "udp", IP: dst.Addr(), Port: dst.Port()}
	if dst.Addr() == gatewayIP {
		// Only DNS is served on the gateway over UDP; host ports are TCP.
		ev.Reason = "udp to the gateway: only DNS (port 53)"
		n.deny(ev)
		return false
	}
	real := netip.AddrPortFrom(n.realAddr(dst.Addr()), dst.Port())
	ev.IP = real.Addr()
	flow, d := n.box.Open(netpolicy.UDP, real)
	ev.Reason = d.Reason
	if !d.Allow {
		n.deny(ev)
		return false
	}
	ev.Name = strings.Join(flow.Names, ",")
	if !n.track(nil) {
		flow.Close()
		return false
	}
	up, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(real))
	if err != nil {
		flow.Close()
		n.untrack(nil)
		ev.Kind, ev.Reason = Allowed, ev.Reason+"; upstream: "+err.Error()
		n.report(ev)
		return false
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		up.Close()
		flow.Close()
		n.untrack(nil)
		return true
	}
	guest := gonet.NewUDPConn(&wq, ep)
	go func() { // joined n.wg in track above
		defer n.untrack(nil)
		defer flow.Close()
		n.udpFlow(guest, up, flow, ev)
	}()
	return true
}

// udpFlow relays datagrams both ways until the flow is idle for UDPIdle,
// the byte budget runs out, or the stack closes.
func (n *Stack) udpFlow(guest *gonet.UDPConn, up *net.UDPConn, flow *netpolicy.Flow, ev Event) {
	if !n.addCloser(guest) {
		up.Close()
		return
	}
	if !n.addCloser(up) {
		n.dropCloser(guest)
		guest.Close()
		return
	}
	start := n.cfg.Now()
	var last atomic.Int64 // unix nanos of the last datagram either way
	last.Store(time.Now().UnixNano())
	var in, out atomic.Int64
	var reason atomic.Pointer[string]
	stop := func(why string) {
		if reason.CompareAndSwap(nil, &why) {
			guest.Close()
			up.Close()
		}
	}
	relay := func(dst, src net.Conn, counter, total *atomic.Int64) {
		buf := make([]byte, 64<<10)
		for {
			src.SetReadDeadline(time.Now().Add(n.cfg.UDPIdle))
			m, err := src.Read(buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					if time.Since(time.Unix(0, last.Load())) < n.cfg.UDPIdle {
						continue // the other direction is busy
					}
					stop("idle")
				}
				stop("closed")
				return
			}
			last.Store(time.Now().UnixNano())
			counter.Add(int64(m))
			total.Add(int64(m))
			if !flow.Count(int64(m)) {
				stop(cutByteLimit)
				return
			}
			dst.Write(buf[:m]) // a lost datagram is UDP's normal
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owned by udpFlow, which waits below
		defer wg.Done()
		relay(guest, up, &in, &n.stats.bytesIn)
	}()
	relay(up, guest, &out, &n.stats.bytesOut)
	wg.Wait()
	n.dropCloser(guest)
	n.dropCloser(up)
	ev.BytesIn, ev.BytesOut, ev.Duration = in.Load(), out.Load(), n.cfg.Now().Sub(start)
	ev.Kind = Allowed
	if why := *reason.Load(); why == cutByteLimit {
		ev.Kind, ev.Reason = Denied, why
	} else {
		ev.Reason += "; " + why
	}
	n.report(ev)
}

const cutByteLimit = "cut: byte limit reached"
