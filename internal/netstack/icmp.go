package netstack

import (
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// ICMP: the gateway answers echo requests (so `ping 10.0.2.2` says the link
// is up), and nothing else is ever forwarded. gVisor already refuses to
// answer an echo for an address it only accepts because the NIC is
// promiscuous, but it stays silent, and a ping would wait for its own
// timeout. onICMP answers every other echo request with "destination
// unreachable: communication administratively prohibited" (RFC 1812
// §5.2.7.1), so it fails at once, and reports the denial.
//
// onICMP is gVisor's default handler for ICMP packets no endpoint took; it
// runs on the packet path and must not block. It returns false to leave a
// packet to the stack (the gateway's echo reply, errors for its flows).
func (n *Stack) onICMP(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
	h := header.ICMPv4(pkt.TransportHeader().Slice())
	if len(h) < header.ICMPv4MinimumSize || h.Type() != header.ICMPv4Echo {
		return false
	}
	dst := netipAddr(id.LocalAddress)
	if dst == gatewayIP {
		return false
	}
	real := n.realAddr(dst)
	n.deny(Event{Proto: "icmp", IP: real, Reason: "ICMP echo to " + real.String() + ": only the gateway answers pings"})
	n.prohibited(pkt)
	return true
}

// prohibited sends the guest an ICMP "administratively prohibited" for
// pkt, from the gateway, quoting pkt's IP header and first 8 bytes of
// payload as RFC 792 asks.
func (n *Stack) prohibited(pkt *stack.PacketBuffer) {
	orig := stack.PayloadSince(pkt.NetworkHeader())
	defer orig.Release()
	ip := header.IPv4(pkt.NetworkHeader().Slice())
	if len(ip) < header.IPv4MinimumSize || !ip.IsValid(int(orig.Size())) {
		return
	}
	quote := orig.AsSlice()
	if max := int(ip.HeaderLength()) + 8; len(quote) > max {
		quote = quote[:max]
	}
	eth := header.Ethernet(pkt.LinkHeader().Slice())
	if len(eth) < header.EthernetMinimumSize {
		return
	}
	b := make([]byte, header.IPv4MinimumSize+header.ICMPv4MinimumSize+len(quote))
	out := header.IPv4(b)
	out.Encode(&header.IPv4Fields{
		TotalLength: uint16(len(b)),
		TTL:         64,
		Protocol:    uint8(header.ICMPv4ProtocolNumber),
		SrcAddr:     tcpAddr(gatewayIP),
		DstAddr:     ip.SourceAddress(),
	})
	out.SetChecksum(^out.CalculateChecksum())
	icmp := header.ICMPv4(b[header.IPv4MinimumSize:])
	icmp.SetType(header.ICMPv4DstUnreachable)
	icmp.SetCode(header.ICMPv4AdminProhibited)
	copy(icmp[header.ICMPv4MinimumSize:], quote)
	icmp.SetChecksum(0)
	icmp.SetChecksum(^checksum.Checksum(icmp, 0))
	// Best effort, like any ICMP error: a full queue drops it.
	_ = n.s.WritePacketToRemote(nicID, eth.SourceAddress(), ipv4.ProtocolNumber, buffer.MakeWithData(b))
}
