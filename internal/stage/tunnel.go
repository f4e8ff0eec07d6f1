package stage

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/control"
)

// httpService serves h to connections the guest opens through a tunnelled
// listener. stop shuts the server down and waits for it.
func httpService(h http.Handler) (handler control.TunnelHandler, stop func()) {
	ln := &connListener{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	handler = func(c net.Conn) {
		select {
		case ln.conns <- c:
		case <-ln.done:
			c.Close()
		}
	}
	return handler, func() {
		// Shutdown lets in-flight requests finish (the gateway records a
		// request's tokens when its handler returns); Close ends the rest.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		srv.Close()
		<-served
	}
}

// connListener is a net.Listener fed with connections by a tunnel handler.
type connListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return tunnelAddr{} }

type tunnelAddr struct{}

func (tunnelAddr) Network() string { return "voidbox-tunnel" }
func (tunnelAddr) String() string  { return "guest" }
