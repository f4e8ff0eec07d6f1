// Package control is the host side of the control channel to a guest init:
// the authenticated handshake, the stream multiplexer and one method per request.
package control

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/voidbox/voidbox/internal/wire"
)

// ErrClosed reports use of a client whose channel is gone.
var ErrClosed = errors.New("control channel closed")

// ErrRefused marks a handshake the guest init refused; the error says why
// (the guest powers off right after, so its reason is all there is).
var ErrRefused = errors.New("the guest init refused the handshake")

// Client talks to one guest init. It is safe for concurrent use: each request
// runs on its own multiplexed stream.
type Client struct {
	sess    *yamux.Session
	welcome wire.Welcome

	mu       sync.Mutex // guards services
	services map[string]TunnelHandler
	wg       sync.WaitGroup // tunnel goroutines
}

// TunnelHandler serves a guest-initiated stream; it owns conn and must close it.
type TunnelHandler func(conn net.Conn)

// Options are what the host asks of the guest init in the handshake.
type Options struct {
	Policy wire.Policy
	// Listeners are guest loopback endpoints tunnelled to host services;
	// Services must hold a handler for each listener's service.
	Listeners []wire.Listener
	Services  map[string]TunnelHandler
	// Network and CACerts go to the guest in the hello (wire.Hello).
	Network *wire.Network
	CACerts string
	// Storage is what the guest mounts before it answers.
	Storage wire.Storage
}

// Handshake authenticates to the guest init on conn and starts the stream
// multiplexer. On error conn is closed. ctx bounds the handshake only.
func Handshake(ctx context.Context, conn net.Conn, secret []byte, o Options) (*Client, error) {
	w, err := exchange(ctx, conn, wire.THello, hello(secret, o, false))
	if err != nil {
		return nil, err
	}
	return start(conn, w, o.Services)
}

// HandshakePark authenticates as Handshake does but asks the guest init to
// park after its Welcome (wire.Resume): on success the guest waits on conn,
// with nothing in flight either way, for a Resume. On error conn is closed.
func HandshakePark(ctx context.Context, conn net.Conn, secret []byte, o Options) (wire.Welcome, error) {
	return exchange(ctx, conn, wire.THello, hello(secret, o, true))
}

func hello(secret []byte, o Options, park bool) wire.Hello {
	return wire.Hello{
		Version:      wire.Version,
		Secret:       hex.EncodeToString(secret),
		TimeUnixNano: time.Now().UnixNano(),
		Policy:       o.Policy,
		Listeners:    o.Listeners,
		Network:      o.Network,
		CACerts:      o.CACerts,
		Storage:      o.Storage,
		Park:         park,
	}
}

// exchange sends the opening message of a handshake (Hello or Resume) and
// reads the guest's answer. On error conn is closed.
func exchange(ctx context.Context, conn net.Conn, t wire.Type, msg any) (wire.Welcome, error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) (wire.Welcome, error) {
		conn.Close()
		return wire.Welcome{}, err
	}
	if err := wire.WriteJSON(conn, t, msg); err != nil {
		return fail(fmt.Errorf("sending %s: %w", t, err))
	}
	f, err := wire.NewReader(conn, 64<<10).ReadFrame()
	if err != nil {
		if ctx.Err() != nil {
			return fail(fmt.Errorf("waiting for the guest init: %w", context.Cause(ctx)))
		}
		return fail(fmt.Errorf("reading welcome: %w", err))
	}
	switch f.Type {
	case wire.TWelcome:
	case wire.TReject:
		var rj wire.Reject
		_ = f.Decode(&rj)
		return fail(fmt.Errorf("%w: %s", ErrRefused, rj.Reason))
	default:
		return fail(fmt.Errorf("handshake: unexpected %s frame", f.Type))
	}
	var w wire.Welcome
	if err := f.Decode(&w); err != nil {
		return fail(err)
	}
	if w.Version != wire.Version {
		return fail(fmt.Errorf("the guest init speaks protocol %d, host speaks %d", w.Version, wire.Version))
	}
	_ = conn.SetDeadline(time.Time{})
	return w, nil
}

// start runs the multiplexer over an authenticated conn.
func start(conn net.Conn, w wire.Welcome, services map[string]TunnelHandler) (*Client, error) {
	sess, err := yamux.Client(conn, muxConfig())
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &Client{sess: sess, welcome: w, services: map[string]TunnelHandler{}}
	for name, h := range services {
		c.services[name] = h
	}
	c.wg.Add(1)
	go c.acceptTunnels()
	return c, nil
}

func muxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = false
	c.ConnectionWriteTimeout = 60 * time.Second
	c.StreamOpenTimeout = 60 * time.Second
	c.LogOutput = io.Discard
	return c
}

// Welcome returns what the guest reported during the handshake.
func (c *Client) Welcome() wire.Welcome { return c.welcome }

// Close tears down the multiplexer and waits for tunnel goroutines. Idempotent.
func (c *Client) Close() error {
	err := c.sess.Close()
	c.wg.Wait()
	return err
}

// Done is closed when the channel is gone.
func (c *Client) Done() <-chan struct{} { return c.sess.CloseChan() }

// open starts a request stream that is torn down if ctx ends first.
func (c *Client) open(ctx context.Context) (net.Conn, func(), error) {
	st, err := c.sess.OpenStream()
	if err != nil {
		if c.sess.IsClosed() {
			return nil, nil, ErrClosed
		}
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { abort(st) })
	return st, func() { stop(); st.Close() }, nil
}

// abort ends a request stream from the host side for good. Close alone is a
// yamux half-close: a read waits on for the guest's end of the stream,
// which a wedged or hostile guest never sends (yamux gives up only after
// its five-minute close timeout). The deadline ends that read now.
func abort(st net.Conn) {
	st.Close()
	_ = st.SetDeadline(time.Unix(1, 0))
}

// ctxErr prefers the context's error over the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if errors.Is(err, yamux.ErrSessionShutdown) || errors.Is(err, yamux.ErrStreamClosed) {
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return err
}

// Ping round-trips an empty request.
func (c *Client) Ping(ctx context.Context) (wire.Pong, error) {
	st, done, err := c.open(ctx)
	if err != nil {
		return wire.Pong{}, err
	}
	defer done()
	if err := wire.WriteFrame(st, wire.TPing, nil); err != nil {
		return wire.Pong{}, ctxErr(ctx, err)
	}
	f, err := wire.NewReader(st, 0).Expect(wire.TPong)
	if err != nil {
		return wire.Pong{}, ctxErr(ctx, err)
	}
	var p wire.Pong
	return p, f.Decode(&p)
}

// Shutdown asks the guest to power off. It returns once the guest acknowledged.
func (c *Client) Shutdown(ctx context.Context) error {
	st, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := wire.WriteFrame(st, wire.TShutdown, nil); err != nil {
		return ctxErr(ctx, err)
	}
	_, err = wire.NewReader(st, 0).Expect(wire.TOK)
	return ctxErr(ctx, err)
}
