package control

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
)

// Handle registers the handler for guest-initiated streams naming service.
// Streams for services without a handler are refused.
func (c *Client) Handle(service string, h TunnelHandler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.services[service] = h
}

// maxTunnels bounds the guest-initiated streams served at once: each holds a
// goroutine and up to a yamux window of buffered data on the host, and the
// guest is not trusted to be reasonable.
const maxTunnels = 64

func (c *Client) acceptTunnels() {
	defer c.wg.Done()
	slots := make(chan struct{}, maxTunnels)
	for {
		st, err := c.sess.AcceptStream()
		if err != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			st.Close() // over the limit: refuse rather than queue
			continue
		}
		var once sync.Once
		release := func() { once.Do(func() { <-slots }) }
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			// The guest is untrusted: bound how long and how much it may send
			// before saying what it wants.
			_ = st.SetReadDeadline(time.Now().Add(10 * time.Second))
			f, err := wire.NewReader(st, 4<<10).Expect(wire.TTunnel)
			var t wire.Tunnel
			if err == nil {
				err = f.Decode(&t)
			}
			if err != nil {
				st.Close()
				release()
				return
			}
			c.mu.Lock()
			h := c.services[t.Service]
			c.mu.Unlock()
			if h == nil {
				_ = wire.WriteJSON(st, wire.TError, wire.Error{Code: wire.CodeNotFound, Message: fmt.Sprintf("no host service %q", t.Service)})
				st.Close()
				release()
				return
			}
			_ = st.SetReadDeadline(time.Time{})
			if err := wire.WriteFrame(st, wire.TOK, nil); err != nil {
				st.Close()
				release()
				return
			}
			// The slot is held until the service closes the connection,
			// which may be after h returns (an HTTP server keeps it).
			h(&slotConn{Conn: st, release: release})
		}()
	}
}

// slotConn releases its tunnel slot when closed.
type slotConn struct {
	net.Conn
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
