package control

import (
	"fmt"
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

func (c *Client) acceptTunnels() {
	defer c.wg.Done()
	for {
		st, err := c.sess.AcceptStream()
		if err != nil {
			return
		}
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
				return
			}
			c.mu.Lock()
			h := c.services[t.Service]
			c.mu.Unlock()
			if h == nil {
				_ = wire.WriteJSON(st, wire.TError, wire.Error{Code: wire.CodeNotFound, Message: fmt.Sprintf("no host service %q", t.Service)})
				st.Close()
				return
			}
			_ = st.SetReadDeadline(time.Time{})
			if err := wire.WriteFrame(st, wire.TOK, nil); err != nil {
				st.Close()
				return
			}
			h(st)
		}()
	}
}
