package netstack

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// TestReusedTupleAfterServerClose: the upstream closes first (as HTTP
// servers do), so the host end of the guest's connection makes the active
// close. A second connection from the same guest port must go through at
// once: the forwarder has no listening endpoint a TIME-WAIT could hand a
// new SYN to, so a host-side TIME-WAIT would drop it for a minute. Guests
// that pick ports at random reuse a tuple within a few hundred connections.
func TestReusedTupleAfterServerClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("bye"))
			c.Close()
		}
	}()
	r := exampleRig(t, nil)
	addrs, err := r.guest.lookup(context.Background(), "example.test")
	if err != nil {
		t.Fatal(err)
	}
	to := tcpip.FullAddress{NIC: 1, Addr: tcpAddr(addrs[0]), Port: uint16(atoi(t, port(t, ln.Addr().String())))}
	from := tcpip.FullAddress{NIC: 1, Addr: tcpAddr(r.guest.g.Addr.Addr()), Port: 40000}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := gonet.DialTCPWithBind(ctx, r.guest.s, from, to, ipv4.ProtocolNumber)
		cancel()
		if err != nil {
			t.Fatalf("connection %d from port %d: %v", i, from.Port, err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		if string(b) != "bye" || err != nil {
			t.Fatalf("connection %d: %q, %v", i, b, err)
		}
		// The guest closes second, so its end is gone at once; wait until
		// the host end has seen the final ACK too.
		waitClosed(t, r)
	}
}

func waitClosed(t *testing.T, r *rig) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for r.host.s.Stats().TCP.CurrentConnected.Value() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("host still has %d connected endpoints", r.host.s.Stats().TCP.CurrentConnected.Value())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
