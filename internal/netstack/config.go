package netstack

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/netstack/dns"
)

// Guest is the interface configuration the guest applies itself at boot
// (no DHCP): address and prefix, default route, resolver and MTU. There is
// no IPv6: the host stack speaks IPv4 and ARP only and drops every IPv6
// frame, and the guest must give its interface no IPv6 address or route
// (disable_ipv6), so no IPv6 path exists to filter.
type Guest struct {
	MAC     net.HardwareAddr
	Addr    netip.Prefix // 10.0.2.15/24
	Gateway netip.Addr   // 10.0.2.2: default route, DNS, and host ports
	DNS     netip.Addr   // the gateway
	MTU     int
}

// GuestConfig is the configuration a guest gets with an MTU (0: the
// default); a Stack's Guest says the same. The VM's device is made with
// its MAC before the stack exists.
func GuestConfig(mtu int) Guest {
	if mtu == 0 {
		mtu = DefaultMTU
	}
	return Guest{MAC: guestMAC, Addr: guestAddr, Gateway: gatewayIP, DNS: gatewayIP, MTU: mtu}
}

// Fixed addressing, the one QEMU's user networking made familiar. The MAC
// addresses are locally administered.
var (
	guestMAC   = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	gatewayMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x02}
	guestAddr  = netip.MustParsePrefix("10.0.2.15/24")
	gatewayIP  = netip.MustParseAddr("10.0.2.2")
	// aliasBase starts the range guests are told for host-only answers
	// (a hosts: entry of 127.0.0.1): the benchmarking range 198.18.0.0/15
	// is never a real destination, so an alias cannot shadow one.
	aliasBase = netip.MustParseAddr("198.18.0.1")
)

// DefaultMTU is the guest MTU unless Config.MTU says otherwise. Larger
// MTUs (65520, as passt uses) would cut per-packet cost, but with 65520 the
// stack-to-stack benchmark stalled (not yet understood), so the limit is
// 1500 until that is found.
const DefaultMTU = 1500

// Config configures one box's stack.
type Config struct {
	// Policy decides every flow; required, and not ModeNone.
	Policy *netpolicy.Policy
	// Resolver looks up allowed names on the host; nil is the host's
	// resolver (net.Resolver). Policy.Hosts entries are answered first.
	Resolver dns.Resolver
	// OnEvent receives every decision and every flow's end. It is called
	// from the stack's goroutines, concurrently, and must not block.
	OnEvent func(Event)
	// Now is the clock for rate limits and event times; nil is time.Now.
	Now func() time.Time
	// MTU of the guest interface, 1280–1500; 0 is DefaultMTU.
	MTU int
	// DialTimeout bounds an upstream TCP connect; 0 is 10 s.
	DialTimeout time.Duration
	// UDPIdle ends a UDP flow after this long without a datagram either
	// way; 0 is 60 s.
	UDPIdle time.Duration
}

func (c *Config) fill() error {
	if c.Policy == nil || c.Policy.Mode == netpolicy.ModeNone {
		return fmt.Errorf("network policy: none (a box without network gets no stack)")
	}
	if c.Resolver == nil {
		c.Resolver = &net.Resolver{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < 1280 || c.MTU > 1500 {
		return fmt.Errorf("mtu %d: want 1280-1500", c.MTU)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.UDPIdle == 0 {
		c.UDPIdle = 60 * time.Second
	}
	return nil
}
