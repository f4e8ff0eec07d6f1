package netstack

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// rawGuest speaks frames to a host stack directly, for what a gVisor guest
// would not send on its own (pings, oversize frames).
type rawGuest struct {
	t    *testing.T
	conn net.Conn
}

func newRawRig(t *testing.T) (*Stack, *rawGuest, *eventLog) {
	t.Helper()
	events := &eventLog{}
	sock := filepath.Join(t.TempDir(), "net.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	guest, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guest.Close() })
	hostConn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	host, err := New(hostConn, Config{Policy: mustPolicy(t, true), OnEvent: events.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	return host, &rawGuest{t: t, conn: guest}, events
}

func (g *rawGuest) send(frame []byte) {
	g.t.Helper()
	hdr := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
	if _, err := g.conn.Write(append(hdr, frame...)); err != nil {
		g.t.Fatal(err)
	}
}

// recv returns the next frame of the given EtherType, skipping others.
func (g *rawGuest) recv(ethType tcpip.NetworkProtocolNumber) header.Ethernet {
	g.t.Helper()
	g.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(g.conn, hdr[:]); err != nil {
			g.t.Fatalf("reading a frame: %v", err)
		}
		f := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(g.conn, f); err != nil {
			g.t.Fatal(err)
		}
		if e := header.Ethernet(f); e.Type() == ethType {
			return e
		}
	}
}

func ethFrame(typ tcpip.NetworkProtocolNumber, payload []byte) []byte {
	b := make([]byte, header.EthernetMinimumSize+len(payload))
	header.Ethernet(b).Encode(&header.EthernetFields{SrcAddr: tcpip.LinkAddress(guestMAC), DstAddr: tcpip.LinkAddress(gatewayMAC), Type: typ})
	copy(b[header.EthernetMinimumSize:], payload)
	return b
}

// announce tells the host stack the guest's MAC (an ARP request for the
// gateway), as a guest does before its first packet.
func (g *rawGuest) announce() {
	g.t.Helper()
	a := header.ARP(make([]byte, header.ARPSize))
	a.SetIPv4OverEthernet()
	a.SetOp(header.ARPRequest)
	copy(a.HardwareAddressSender(), guestMAC)
	copy(a.ProtocolAddressSender(), guestAddr.Addr().AsSlice())
	copy(a.ProtocolAddressTarget(), gatewayIP.AsSlice())
	f := ethFrame(header.ARPProtocolNumber, a)
	copy(header.Ethernet(f)[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	g.send(f)
	g.recv(header.ARPProtocolNumber)
}

func echoRequest(dst netip.Addr) []byte {
	b := make([]byte, header.IPv4MinimumSize+header.ICMPv4MinimumSize+4)
	ip := header.IPv4(b)
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(b)), TTL: 64, Protocol: uint8(header.ICMPv4ProtocolNumber),
		SrcAddr: tcpAddr(guestAddr.Addr()), DstAddr: tcpAddr(dst)})
	ip.SetChecksum(^ip.CalculateChecksum())
	icmp := header.ICMPv4(b[header.IPv4MinimumSize:])
	icmp.SetType(header.ICMPv4Echo)
	icmp.SetIdent(7)
	icmp.SetSequence(1)
	copy(icmp[header.ICMPv4MinimumSize:], "ping")
	icmp.SetChecksum(^checksum.Checksum(icmp, 0))
	return ethFrame(header.IPv4ProtocolNumber, b)
}

// TestPing: the gateway answers a ping; any other address gets "prohibited"
// at once (not silence until the ping times out), and a denial event.
func TestPing(t *testing.T) {
	host, g, events := newRawRig(t)
	g.announce()

	g.send(echoRequest(gatewayIP))
	ip := header.IPv4(g.recv(header.IPv4ProtocolNumber)[header.EthernetMinimumSize:])
	icmp := header.ICMPv4(ip.Payload())
	if icmp.Type() != header.ICMPv4EchoReply || netipAddr(ip.SourceAddress()) != gatewayIP {
		t.Fatalf("gateway ping: ICMP type %d from %v, want an echo reply", icmp.Type(), ip.SourceAddress())
	}

	far := netip.MustParseAddr("93.184.216.34")
	g.send(echoRequest(far))
	ip = header.IPv4(g.recv(header.IPv4ProtocolNumber)[header.EthernetMinimumSize:])
	icmp = header.ICMPv4(ip.Payload())
	if icmp.Type() != header.ICMPv4DstUnreachable || icmp.Code() != header.ICMPv4AdminProhibited || netipAddr(ip.SourceAddress()) != gatewayIP {
		t.Fatalf("ping %v: ICMP %d/%d from %v, want 3/13 from the gateway", far, icmp.Type(), icmp.Code(), ip.SourceAddress())
	}
	if checksum.Checksum(icmp, 0) != 0xffff || !ip.IsChecksumValid() {
		t.Error("bad checksum on the unreachable")
	}
	quoted := header.IPv4(icmp[header.ICMPv4MinimumSize:])
	if len(quoted) < header.IPv4MinimumSize+8 || netipAddr(quoted.DestinationAddress()) != far {
		t.Errorf("the unreachable quotes %x, want the echo's IP header", []byte(quoted))
	}
	e := events.waitFor(t, "denied icmp", func(e Event) bool { return e.Kind == Denied && e.Proto == "icmp" })
	if e.IP != far || !strings.Contains(e.Reason, "only the gateway answers pings") {
		t.Errorf("event %+v", e)
	}
	if st := host.Stats(); st.FlowsDenied != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestGiantFrameDropped: a frame longer than the MTU allows is dropped and
// counted, the link goes on (a ping after it is answered).
func TestGiantFrameDropped(t *testing.T) {
	host, g, _ := newRawRig(t)
	g.announce()
	g.send(ethFrame(header.IPv4ProtocolNumber, make([]byte, 9000)))
	g.send(echoRequest(gatewayIP))
	ip := header.IPv4(g.recv(header.IPv4ProtocolNumber)[header.EthernetMinimumSize:])
	if header.ICMPv4(ip.Payload()).Type() != header.ICMPv4EchoReply {
		t.Fatal("no echo reply after a giant frame")
	}
	if n := host.link.giants.Load(); n != 1 {
		t.Errorf("giants = %d, want 1", n)
	}
	if host.Err() != nil {
		t.Errorf("link ended: %v", host.Err())
	}
}
