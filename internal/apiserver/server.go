// Package apiserver is the HTTP server shell of the voidbox daemon: its
// listeners (a private unix socket by default; TCP only behind a bearer
// token, TLS optional), HTTP/1.1 and HTTP/2, body caps and timeouts, JSON
// errors, graceful shutdown, and the Server-Sent Events writer the event
// stream uses. It holds no API logic: it serves the handler it is given.
package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/voidbox/voidbox/internal/filelock"
)

// Config says what to serve where. Zero durations and sizes take the
// defaults below.
type Config struct {
	Handler http.Handler
	// Socket is the unix socket to listen on (see DefaultSocketPath); empty:
	// none. Clients of the socket are trusted by its mode, 0600.
	Socket string
	// TCP is a host:port to listen on as well; empty: none. Every request
	// on it needs the bearer token: Token, or else the one in TokenFile
	// (created if missing). Without TLS, TCP is refused on anything but a
	// loopback address unless AllowPlaintext: the token would cross the
	// network in clear.
	TCP            string
	Token          string
	TokenFile      string
	CertFile       string
	KeyFile        string
	AllowPlaintext bool

	MaxBodyBytes      int64         // request body cap (413 past it); 16 MiB
	ReadHeaderTimeout time.Duration // request line + headers; 10 s
	BodyTimeout       time.Duration // from the first body read to its end; 60 s
	IdleTimeout       time.Duration // keep-alive connection with no request; 120 s
	ShutdownTimeout   time.Duration // graceful shutdown before connections are cut; 10 s
	Logger            *slog.Logger  // nil: discard
}

// Defaults for the zero values of Config.
const (
	DefaultMaxBodyBytes      = 16 << 20
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultBodyTimeout       = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
)

// Server is a bound, not yet serving, server.
type Server struct {
	cfg      Config
	token    string
	unix     *net.UnixListener
	lock     *filelock.Lock
	tcp      net.Listener
	servers  []*http.Server
	stopCtx  context.Context // cancelled when shutdown begins: ends event streams
	stopNow  context.CancelFunc
	closeMu  sync.Mutex
	isClosed bool // guarded by closeMu
}

// New checks cfg and binds its listeners, so a bad address, a live daemon on
// the socket or a missing certificate fail here, before anything runs.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("apiserver: no handler")
	}
	if cfg.Socket == "" && cfg.TCP == "" {
		return nil, errors.New("apiserver: no socket and no TCP address to listen on")
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("apiserver: TLS needs both a certificate and a key file")
	}
	if cfg.CertFile != "" && cfg.TCP == "" {
		return nil, errors.New("apiserver: TLS is for the TCP listener; no TCP address given")
	}
	setDefaults(&cfg)
	s := &Server{cfg: cfg}
	s.stopCtx, s.stopNow = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if cfg.Socket != "" {
		l, lock, err := listenUnix(ctx, cfg.Socket)
		if err != nil {
			return nil, fmt.Errorf("apiserver: unix socket: %w", err)
		}
		s.unix, s.lock = l, lock
		s.servers = append(s.servers, s.httpServer(s.wrap(cfg.Handler), false))
	}
	if cfg.TCP != "" {
		if err := s.listenTCP(); err != nil {
			return nil, fmt.Errorf("apiserver: tcp %s: %w", cfg.TCP, err)
		}
	}
	ok = true
	return s, nil
}

func setDefaults(c *Config) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&c.BodyTimeout, DefaultBodyTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

func (s *Server) listenTCP() error {
	c := s.cfg
	tok := c.Token
	if tok == "" {
		if c.TokenFile == "" {
			return errors.New("needs a token or a token file")
		}
		var err error
		if tok, err = LoadOrCreateToken(c.TokenFile); err != nil {
			return err
		}
	}
	s.token = tok
	var tlsCfg *tls.Config
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return fmt.Errorf("loading TLS key pair: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"}}
	}
	l, err := net.Listen("tcp", c.TCP)
	if err != nil {
		return err
	}
	if tlsCfg == nil && !c.AllowPlaintext {
		ap, err := netip.ParseAddrPort(l.Addr().String())
		if err != nil || !ap.Addr().IsLoopback() {
			l.Close()
			return fmt.Errorf("plaintext on non-loopback %s: give a certificate and key, or bind 127.0.0.1", l.Addr())
		}
	}
	if tlsCfg != nil {
		l = tls.NewListener(l, tlsCfg)
	}
	s.tcp = l
	s.servers = append(s.servers, s.httpServer(requireToken(tok, s.wrap(c.Handler)), tlsCfg != nil))
	return nil
}

func (s *Server) httpServer(h http.Handler, tlsOn bool) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	if tlsOn {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	}
	return &http.Server{
		Handler:           jsonErrors(h),
		Protocols:         &p,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		HTTP2:             &http.HTTP2Config{MaxReadFrameSize: 1 << 20},
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, stopKey{}, s.stopCtx)
		},
	}
}

type stopKey struct{}

// stopping is the context cancelled when the server starts shutting down.
func stopping(ctx context.Context) context.Context {
	c, _ := ctx.Value(stopKey{}).(context.Context)
	return c
}

// wrap adds the body cap and the body timeout.
func (s *Server) wrap(h http.Handler) http.Handler {
	max, timeout := s.cfg.MaxBodyBytes, s.cfg.BodyTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			WriteError(w, Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "", "body over %d bytes", max))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: http.MaxBytesReader(w, r.Body, max), rc: http.NewResponseController(w), timeout: timeout}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody sets a read deadline at the first read of the body and
// clears it when the body is read to its end, so a client dribbling its body is cut off
// but a handler that works long after reading it is not (the server's own
// ReadTimeout would cancel such a request's context).
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	armed   bool
	done    bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if !b.armed {
		b.armed = true
		b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.ReadCloser.Read(p)
	// Only a whole body lifts the deadline: after a timeout it must stay
	// past, or the server's read of the rest of the body (before it writes
	// the response) would wait for the slow client again.
	if err == io.EOF && !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// SocketPath is the unix socket served, or "".
func (s *Server) SocketPath() string {
	if s.unix == nil {
		return ""
	}
	return s.cfg.Socket
}

// TCPAddr is the TCP address served (with the port chosen for ":0"), or nil.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Token is the TCP listener's bearer token ("" without TCP).
func (s *Server) Token() string { return s.token }

// Serve serves until ctx ends, then shuts down gracefully: listeners close,
// event streams end (clients reconnect with Last-Event-ID), requests in
// progress get ShutdownTimeout to finish before their connections are cut.
// It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	var g errgroup.Group
	ls := []net.Listener{}
	if s.unix != nil {
		ls = append(ls, s.unix)
	}
	if s.tcp != nil {
		ls = append(ls, s.tcp)
	}
	for i, srv := range s.servers {
		l := ls[i]
		g.Go(func() error {
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	failed := make(chan struct{})
	var serveErr error
	go func() { serveErr = g.Wait(); close(failed) }()
	select {
	case <-ctx.Done():
	case <-failed: // a listener broke: shut the rest down too
	}
	err := s.shutdown()
	<-failed
	return errors.Join(serveErr, err)
}

func (s *Server) shutdown() error {
	s.stopNow()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
			errs = append(errs, fmt.Errorf("shutting down: %w", err))
		}
	}
	errs = append(errs, s.Close())
	return errors.Join(errs...)
}

// Close cuts every connection and releases the listeners and the socket's
// lock. It is idempotent.
func (s *Server) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.isClosed {
		return nil
	}
	s.isClosed = true
	s.stopNow()
	for _, srv := range s.servers {
		srv.Close()
	}
	if s.unix != nil {
		s.unix.Close() // removes the socket file
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
	s.lock.Close()
	return nil
}
