package guestinit

import (
	"crypto/subtle"
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

// server is the control server: it serves one control channel.
type server struct {
	secret    []byte
	spawner   *spawner
	bootStart time.Time
	preload   <-chan struct{} // closed once the modules the host asked to preload are in

	listeners []listener // opened during the handshake
	// view is the file system commands and file requests see; set during
	// the handshake, before any stream is served, and never changed.
	view view

	mu           sync.Mutex // guards policy, sess and shuttingDown
	policy       wire.Policy
	sess         *yamux.Session
	shuttingDown bool // the host asked for a power-off
}

// serve runs the handshake on ch and then serves multiplexed streams until the
// channel fails or the host asks for shutdown.
func (srv *server) serve(ch io.ReadWriteCloser) error {
	hello, err := srv.handshake(ch)
	if err != nil {
		return err
	}
	setClock(hello.TimeUnixNano)
	// A parked guest (a snapshot's template) starts nothing until a
	// Resume makes this copy its own.
	for park := hello.Park; park; {
		r, err := srv.resume(ch)
		if err != nil {
			return err
		}
		park = r.Park
	}
	sess, err := yamux.Server(ch, MuxConfig())
	if err != nil {
		return err
	}
	srv.mu.Lock()
	srv.policy = hello.Policy
	srv.sess = sess
	srv.mu.Unlock()
	serveListeners(sess, srv.listeners)
	go func() {
		// Entropy device: useful, not needed to boot; off the critical path.
		if err := ensureModules(ModulesFile, "virtio_rng"); err != nil {
			logf(4, "virtio_rng: %v", err)
		}
	}()
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			srv.mu.Lock()
			orderly := srv.shuttingDown
			srv.mu.Unlock()
			if orderly {
				return nil
			}
			return err
		}
		go srv.handle(st)
	}
}

// MuxConfig is the yamux configuration both ends use. Keepalives are off: a
// TCG guest can stall for seconds, and the host learns of a dead VM from QEMU
// exiting rather than from missed pings.
func MuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = false
	c.ConnectionWriteTimeout = 60 * time.Second
	c.StreamOpenTimeout = 60 * time.Second
	c.LogOutput = io.Discard
	return c
}

func (srv *server) handshake(ch io.ReadWriter) (*wire.Hello, error) {
	r := wire.NewReader(ch, 64<<10)
	f, err := r.ReadFrame()
	if err != nil {
		return nil, fmt.Errorf("reading hello: %w", err)
	}
	reject := func(reason string) (*wire.Hello, error) {
		_ = wire.WriteJSON(ch, wire.TReject, wire.Reject{Reason: reason})
		return nil, errors.New("handshake rejected: " + reason)
	}
	if f.Type != wire.THello {
		return reject(fmt.Sprintf("expected hello, got %s", f.Type))
	}
	var h wire.Hello
	if err := f.Decode(&h); err != nil {
		return reject("malformed hello")
	}
	if h.Version != wire.Version {
		return reject(fmt.Sprintf("protocol version %d not supported (guest speaks %d)", h.Version, wire.Version))
	}
	got, err := hex.DecodeString(h.Secret)
	if err != nil || subtle.ConstantTimeCompare(got, srv.secret) != 1 {
		return reject("bad secret")
	}
	// The policy is known from here on: mount the sandbox user's
	// filesystems with its disk budget, and the image root, images and
	// host shares asked for, before anything can run.
	<-srv.preload
	if srv.view, _, err = setupStorage(h.Policy, h.Storage); err != nil {
		return reject(err.Error())
	}
	if srv.listeners, err = openListeners(h.Listeners); err != nil {
		return reject(err.Error())
	}
	if h.Network != nil {
		if err := configureNetwork(h.Network); err != nil {
			return reject(err.Error())
		}
		// Commands resolve through the view's /etc (an image root's own).
		if err := srv.view.as(true, func() error { return writeResolvConf(h.Network.DNS) }); err != nil {
			return reject(err.Error())
		}
	}
	if err := srv.view.as(true, func() error { return addCACerts(h.CACerts) }); err != nil {
		return reject("adding CA certificates: " + err.Error())
	}
	if h.Policy.AllowedCommands != nil {
		// Before any command can run: the kernel checks every exec.
		g, err := startExecGuard(h.Policy.AllowedCommands, h.Policy.TrustedDirs, srv.view.root)
		if err != nil {
			return reject(err.Error())
		}
		srv.spawner.guard = g
	}
	w := wire.Welcome{
		Version:     wire.Version,
		Kernel:      kernelRelease(),
		InitVersion: Version,
		BootMillis:  uptimeMillis(),
	}
	if err := wire.WriteJSON(ch, wire.TWelcome, w); err != nil {
		return nil, err
	}
	return &h, nil
}

// handle serves one host-initiated stream: the first frame says what it is.
func (srv *server) handle(st net.Conn) {
	defer st.Close()
	r := wire.NewReader(st, 0)
	f, err := r.ReadFrame()
	if err != nil {
		return
	}
	switch f.Type {
	case wire.TExec:
		srv.handleExec(st, r, f)
	case wire.TPty:
		srv.handlePty(st, r, f)
	case wire.TWriteFile:
		handleWriteFile(st, r, f, srv.view)
	case wire.TReadFile:
		handleReadFile(st, f, srv.view)
	case wire.TStat:
		handleStat(st, f, srv.view)
	case wire.TMkdir:
		handleMkdir(st, f, srv.view)
	case wire.TMount:
		handleMount(st, f, srv.view)
	case wire.TPing:
		_ = wire.WriteJSON(st, wire.TPong, wire.Pong{UptimeMillis: uptimeMillis()})
	case wire.TShutdown:
		_ = wire.WriteFrame(st, wire.TOK, nil)
		_ = st.Close()
		srv.mu.Lock()
		sess := srv.sess
		srv.shuttingDown = true
		srv.mu.Unlock()
		// Give the OK frame a moment to leave before the VM powers off.
		time.Sleep(20 * time.Millisecond)
		_ = sess.Close()
	default:
		sendError(st, wire.CodeInvalid, fmt.Sprintf("unexpected %s frame", f.Type))
	}
}

func sendError(w io.Writer, code, msg string) {
	_ = wire.WriteJSON(w, wire.TError, wire.Error{Code: code, Message: msg})
}

func (srv *server) currentPolicy() wire.Policy {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.policy
}
