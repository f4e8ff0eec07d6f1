package netstack

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The data path is QEMU's `-netdev stream` (and `-netdev socket`) framing:
// each Ethernet frame (no FCS, no virtio-net header) preceded by its length
// as a 4-byte big-endian integer (QEMU net/stream.c, net_fill_rstate).
const frameHeaderLen = 4

// link moves frames between a net.Conn and a gVisor channel endpoint: one
// goroutine reads frames and injects them, one drains the endpoint's queue
// and writes them, flushing whenever the queue runs dry so a burst of
// segments costs one write. Both exit when the conn or ctx closes.
type link struct {
	conn     net.Conn
	ch       *channel.Endpoint
	ep       stack.LinkEndpoint // ch wrapped in Ethernet framing
	maxFrame int
	giants   atomic.Int64 // frames dropped for exceeding maxFrame
}

// queueLen is the depth of the outbound queue; a full queue drops (TCP
// retransmits) rather than blocking the stack.
const queueLen = 1024

func newLink(conn net.Conn, mtu int, mac net.HardwareAddr) *link {
	ch := channel.New(queueLen, uint32(mtu+header.EthernetMinimumSize), tcpip.LinkAddress(mac))
	return &link{conn: conn, ch: ch, ep: ethernet.New(ch), maxFrame: mtu + header.EthernetMinimumSize}
}

// maxWireFrame is QEMU's NET_BUFSIZE (net/net.h): no frame QEMU passes on
// is longer, so a longer length means the peer is not speaking the framing.
const maxWireFrame = 4096 + 65536

// readLoop injects frames from the conn until it fails. A length QEMU could
// never send (shorter than an Ethernet header, longer than maxWireFrame)
// ends the link: the peer is not speaking the framing. A well-framed frame
// longer than the MTU allows (a root guest can send one, raw or VLAN
// tagged) is dropped, as a NIC drops a giant, and counted.
func (l *link) readLoop() error {
	r := bufio.NewReaderSize(l.conn, 256<<10)
	var hdr [frameHeaderLen]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n < header.EthernetMinimumSize || n > maxWireFrame {
			return fmt.Errorf("frame of %d bytes (want %d-%d)", n, header.EthernetMinimumSize, maxWireFrame)
		}
		if n > l.maxFrame {
			l.giants.Add(1)
			if _, err := r.Discard(n); err != nil {
				return err
			}
			continue
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(r, frame); err != nil {
			return err
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
		l.ch.InjectInbound(0, pkt) // the Ethernet endpoint reads the type from the frame
		pkt.DecRef()
	}
}

// writeLoop writes queued frames until ctx ends or a write fails.
func (l *link) writeLoop(ctx context.Context) error {
	w := bufio.NewWriterSize(l.conn, 256<<10)
	var hdr [frameHeaderLen]byte
	for {
		pkt := l.ch.ReadContext(ctx)
		if pkt == nil {
			return ctx.Err()
		}
		binary.BigEndian.PutUint32(hdr[:], uint32(pkt.Size()))
		_, err := w.Write(hdr[:])
		for _, s := range pkt.AsSlices() {
			if err == nil {
				_, err = w.Write(s)
			}
		}
		pkt.DecRef()
		if err == nil && l.ch.NumQueued() == 0 {
			err = w.Flush()
		}
		if err != nil {
			return err
		}
	}
}

// isClosed reports the errors that mean the link was closed on purpose.
func isClosed(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled)
}
