package guestinit

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"

	"github.com/hashicorp/yamux"
	"github.com/voidbox/voidbox/internal/wire"
)

// listener is an opened loopback endpoint and the host service it reaches.
type listener struct {
	ln      net.Listener
	service string
}

// openListeners opens the loopback endpoints the host asked for, before the
// handshake completes, so a bad request is refused in the handshake.
func openListeners(ls []wire.Listener) ([]listener, error) {
	var out []listener
	for _, l := range ls {
		ap, err := netip.ParseAddrPort(l.Addr)
		if err == nil && !ap.Addr().IsLoopback() {
			err = fmt.Errorf("not a loopback address")
		}
		var ln net.Listener
		if err == nil {
			ln, err = net.Listen("tcp", l.Addr)
		}
		if err != nil {
			for _, o := range out {
				o.ln.Close()
			}
			return nil, fmt.Errorf("listener %q for %s: %v", l.Addr, l.Service, err)
		}
		out = append(out, listener{ln, l.Service})
	}
	return out, nil
}

// serveListeners carries each accepted connection to its host service over a
// new stream; the guest never learns where the service really is.
func serveListeners(sess *yamux.Session, ls []listener) {
	for _, l := range ls {
		go func() {
			<-sess.CloseChan()
			l.ln.Close()
		}()
		go acceptLoop(sess, l.ln, l.service)
	}
}

func acceptLoop(sess *yamux.Session, ln net.Listener, service string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go tunnel(sess, c, service)
	}
}

func tunnel(sess *yamux.Session, c net.Conn, service string) {
	defer c.Close()
	st, err := sess.OpenStream()
	if err != nil {
		return
	}
	defer st.Close()
	if wire.WriteJSON(st, wire.TTunnel, wire.Tunnel{Service: service}) != nil {
		return
	}
	if _, err := wire.NewReader(st, 4<<10).Expect(wire.TOK); err != nil {
		logf(3, "tunnel to %s refused: %v", service, err)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(st, c)
		st.Close() // half-close is not available on yamux: end the stream
	}()
	go func() {
		defer wg.Done()
		io.Copy(c, st)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	wg.Wait()
}
