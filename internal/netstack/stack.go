// Package netstack is the host side of a box's network: a user-space
// TCP/IP stack (gVisor's tcpip) on the other end of the VM's virtio-net
// device, with forwarders of our own that ask the box's policy
// (internal/netpolicy) before every flow. Nothing the guest sends reaches a
// host socket unless the policy allowed it: there is no route, only
// forwarders. A denied TCP flow gets a RST, a denied UDP datagram an ICMP
// port unreachable, a denied name NXDOMAIN — never a hang.
package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/netstack/dns"
)

const nicID = 1

// Stack is one box's network. Create it with New; Close it once the VM is
// gone (or to cut the VM off).
type Stack struct {
	cfg   Config
	box   *netpolicy.Box
	s     *stack.Stack
	link  *link
	dns   *dns.Server
	stats counters

	// ctx is cancelled by Close; every dial and goroutine watches it.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts every goroutine the stack owns, including the forwarder
	// handlers gVisor starts (each joins in track before doing anything).
	wg sync.WaitGroup

	mu sync.Mutex
	// closed is set by Close; no goroutine joins wg after it. Guarded by mu.
	closed bool
	// conns are the open connections and listeners, closed by Close to
	// unblock their goroutines. Guarded by mu.
	conns map[interface{ Close() error }]struct{}
	// aliases maps a guest-visible alias to the real address, and back.
	// Guarded by mu.
	aliasToReal, realToAlias map[netip.Addr]netip.Addr
	nextAlias                netip.Addr
	// serviceAddr and serviceName map the policy's service names to the
	// addresses the guest is told, and back; set in New, read-only after.
	serviceAddr map[string]netip.Addr
	serviceName map[netip.Addr]string
	// linkErr is why the link ended, if it ended on its own. Guarded by mu.
	linkErr error

	stopOnce, closeOnce sync.Once
	done                chan struct{}
}

// New starts a stack speaking QEMU's stream framing on conn (the accepted
// `-netdev stream` socket, or one end of a socketpair in tests). The stack
// owns conn from here on.
func New(conn net.Conn, cfg Config) (*Stack, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Stack{
		cfg:         cfg,
		box:         netpolicy.NewBox(cfg.Policy, cfg.Now),
		ctx:         ctx,
		cancel:      cancel,
		conns:       make(map[interface{ Close() error }]struct{}),
		aliasToReal: make(map[netip.Addr]netip.Addr),
		realToAlias: make(map[netip.Addr]netip.Addr),
		nextAlias:   aliasBase,
		serviceAddr: make(map[string]netip.Addr),
		serviceName: make(map[netip.Addr]string),
		done:        make(chan struct{}),
	}
	n.assignServices()
	n.dns = &dns.Server{Box: n.box, Resolver: cfg.Resolver, GuestAddr: n.guestAddr, Service: n.serviceFor}
	n.link = newLink(conn, cfg.MTU, gatewayMAC)
	if err := n.build(); err != nil {
		cancel()
		conn.Close()
		return nil, err
	}
	n.goLink()
	if err := n.serveDNS(); err != nil {
		n.Close()
		return nil, fmt.Errorf("starting dns: %w", err)
	}
	return n, nil
}

// build makes the gVisor stack: IPv4 and ARP only, the gateway address on
// one NIC that accepts (promiscuous) and answers from (spoofing) any
// address, so the forwarders see every flow whatever its destination.
func (n *Stack) build() error {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	n.s = s
	if err := tuneTCP(s); err != nil {
		return err
	}
	// No TIME-WAIT on the host side. When the upstream closes first (HTTP
	// servers do), the host end of the guest's connection does the active
	// close and would hold the 4-tuple for 60 s. A new SYN on a tuple in
	// TIME-WAIT is handed only to a listening endpoint, and the forwarder is
	// none, so gVisor drops it: a guest that picks ports at random (gVisor
	// does; Linux cycles through its range) reused one within ~300
	// connections and hung in SYN retries (this was BenchmarkCRR's stall).
	// Nothing can arrive late on the virtual wire between two stacks that
	// TIME-WAIT would guard against; a retransmitted FIN gets a RST.
	tw := tcpip.TCPTimeWaitTimeoutOption(0)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &tw); err != nil {
		return fmt.Errorf("tcp time-wait: %s", err)
	}
	if err := s.CreateNIC(nicID, n.link.ep); err != nil {
		return fmt.Errorf("creating nic: %s", err)
	}
	if err := s.AddProtocolAddress(nicID, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpAddr(gatewayIP), PrefixLen: guestAddr.Bits()},
	}, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("adding gateway address: %s", err)
	}
	if err := s.SetPromiscuousMode(nicID, true); err != nil {
		return fmt.Errorf("promiscuous mode: %s", err)
	}
	if err := s.SetSpoofing(nicID, true); err != nil {
		return fmt.Errorf("spoofing: %s", err)
	}
	subnet, _ := tcpip.NewSubnet(tcpAddr(guestAddr.Masked().Addr()), tcpip.MaskFromBytes(net.CIDRMask(guestAddr.Bits(), 32)))
	s.SetRouteTable([]tcpip.Route{{Destination: subnet, NIC: nicID}})
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(s, 0, maxConnecting, n.onTCP).HandlePacket)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(s, n.onUDP).HandlePacket)
	s.SetTransportProtocolHandler(icmp.ProtocolNumber4, n.onICMP)
	return nil
}

// maxConnecting bounds SYNs being decided and dialled at once; past it
// gVisor drops SYNs (the guest retries). The policy's flow limit is far
// below in practice and answers with a RST.
const maxConnecting = 1024

func tuneTCP(s *stack.Stack) error {
	sack := tcpip.TCPSACKEnabled(true)
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20}
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	for _, o := range []tcpip.SettableTransportProtocolOption{&sack, &rcv, &snd, &moderate} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fmt.Errorf("tcp option %T: %s", o, err)
		}
	}
	return nil
}

func (n *Stack) goLink() {
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		err := n.link.readLoop()
		n.linkDown(err)
	}()
	go func() {
		defer n.wg.Done()
		err := n.link.writeLoop(n.ctx)
		n.linkDown(err)
	}()
}

// linkDown records why the link ended and stops the stack: the VM is gone
// or speaks garbage. The owner still calls Close, which waits.
func (n *Stack) linkDown(err error) {
	n.mu.Lock()
	if n.linkErr == nil && !n.closed && !isClosed(err) {
		n.linkErr = err
	}
	n.mu.Unlock()
	n.stop()
}

// Guest returns the configuration the guest must apply.
func (n *Stack) Guest() Guest { return GuestConfig(n.cfg.MTU) }

// Stats returns the counters so far.
func (n *Stack) Stats() Stats {
	st := n.stats.snapshot()
	st.Giants = n.link.giants.Load()
	return st
}

// Done is closed when the stack has stopped, by Close or because the link
// ended; Err then says why.
func (n *Stack) Done() <-chan struct{} { return n.done }

// Err is why the link ended on its own (a framing error), or nil.
func (n *Stack) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.linkErr
}

// Close stops everything: the link, every flow, every port forward, and
// waits for all of it. It is idempotent and safe from any goroutine.
func (n *Stack) Close() error {
	n.stop()
	n.closeOnce.Do(func() {
		n.wg.Wait()
		n.s.Wait()
		n.s.Destroy()
	})
	return nil
}

// stop closes everything without waiting; Done is closed when it returns.
func (n *Stack) stop() {
	n.stopOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		conns := n.conns
		n.conns = nil
		n.mu.Unlock()
		n.cancel()
		n.link.conn.Close()
		for c := range conns {
			c.Close()
		}
		n.s.Close()
		n.link.ch.Close()
		close(n.done)
	})
}

// track registers a goroutine (and optionally a closer to run on Close).
// It reports false once the stack is closing: the caller must give up.
func (n *Stack) track(c interface{ Close() error }) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.wg.Add(1)
	if c != nil {
		n.conns[c] = struct{}{}
	}
	return true
}

// untrack ends what track started.
func (n *Stack) untrack(c interface{ Close() error }) {
	n.mu.Lock()
	if c != nil && n.conns != nil {
		delete(n.conns, c)
	}
	n.mu.Unlock()
	n.wg.Done()
}

// addCloser registers another closer for an already-tracked goroutine; if
// the stack is closing it closes c at once and reports false.
func (n *Stack) addCloser(c interface{ Close() error }) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		c.Close()
		return false
	}
	n.conns[c] = struct{}{}
	return true
}

func (n *Stack) dropCloser(c interface{ Close() error }) {
	n.mu.Lock()
	if n.conns != nil {
		delete(n.conns, c)
	}
	n.mu.Unlock()
}

func (n *Stack) emit(e Event) {
	e.Time = n.cfg.Now()
	if n.cfg.OnEvent != nil {
		n.cfg.OnEvent(e)
	}
}

// guestAddr is the address the guest is told for a DNS answer: a public
// address as it is, anything else (a hosts: entry such as 127.0.0.1, which
// the guest would take for its own loopback) as an alias the forwarders
// translate back.
func (n *Stack) guestAddr(real netip.Addr) netip.Addr {
	if public, _ := netpolicy.Classify(real); public {
		return real
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if a, ok := n.realToAlias[real]; ok {
		return a
	}
	a := n.nextAlias
	if !aliasRange.Contains(a) || serviceRange.Contains(a) {
		return real // out of aliases: the guest cannot use it, fail closed
	}
	n.nextAlias = a.Next()
	n.aliasToReal[a], n.realToAlias[real] = real, a
	return a
}

var aliasRange = netip.MustParsePrefix("198.18.0.0/15")

// realAddr translates a guest destination back from an alias.
func (n *Stack) realAddr(a netip.Addr) netip.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r, ok := n.aliasToReal[a]; ok {
		return r
	}
	return a
}

func tcpAddr(a netip.Addr) tcpip.Address {
	if a.Is4() {
		return tcpip.AddrFrom4(a.As4())
	}
	return tcpip.AddrFrom16(a.As16())
}

func netipAddr(a tcpip.Address) netip.Addr {
	if a.Len() == 4 {
		return netip.AddrFrom4(a.As4())
	}
	if a.Len() == 16 {
		return netip.AddrFrom16(a.As16())
	}
	return netip.Addr{}
}

var errClosing = errors.New("network stack closed")
