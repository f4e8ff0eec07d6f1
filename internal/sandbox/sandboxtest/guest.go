// Package sandboxtest is an in-process guest for tests of the host-side
// engine: it speaks the real wire protocol (handshake, yamux streams, exec,
// files, tunnels) over a net.Pipe to a real sandbox.Sandbox, with an
// in-memory filesystem and Go functions standing in for guest programs.
// Only the guest's kernel and processes are missing; everything the host
// does is the production code.
package sandboxtest

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/wire"
)

// Process is one exec request as a program sees it.
type Process struct {
	Args   []string
	Env    []string // KEY=VALUE
	Dir    string
	Root   bool // AsRoot
	System bool // AsSystem
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Guest  *Guest
}

// Program stands in for a guest program: it returns the exit code.
type Program func(ctx context.Context, p *Process) int

// File is an entry of the in-memory filesystem.
type File struct {
	Data []byte
	Mode fs.FileMode
	Root bool // written root-owned
}

// Guest is an in-process guest init. Register programs with Handle before
// booting.
type Guest struct {
	mu       sync.Mutex
	programs map[string]Program // by argv[0], guarded by mu
	files    map[string]*File   // guarded by mu
	mounts   []wire.Mount       // guarded by mu
	execs    [][]string         // every argv run, guarded by mu
	hello    wire.Hello         // guarded by mu
	tunnels  map[string]string  // guest addr -> host listener addr, guarded by mu
	wg       sync.WaitGroup
}

// New returns a guest with an empty filesystem and no programs.
func New() *Guest {
	return &Guest{programs: map[string]Program{}, files: map[string]*File{}, tunnels: map[string]string{}}
}

// Handle makes argv[0] == name run p.
func (g *Guest) Handle(name string, p Program) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.programs[name] = p
}

// File returns a copy of the file at p, or nil.
func (g *Guest) File(p string) *File {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.files[path.Clean(p)]
	if !ok {
		return nil
	}
	c := *f
	c.Data = append([]byte(nil), f.Data...)
	return &c
}

// WriteFile puts a file in the guest's filesystem (as a program would).
func (g *Guest) WriteFile(p string, data []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.files[path.Clean(p)] = &File{Data: append([]byte(nil), data...), Mode: 0o644}
}

// Files lists every path in the filesystem, sorted.
func (g *Guest) Files() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for p := range g.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Execs lists the argv of every exec request, in order.
func (g *Guest) Execs() [][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]string(nil), g.execs...)
}

// Mounts lists the mount requests.
func (g *Guest) Mounts() []wire.Mount {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]wire.Mount(nil), g.mounts...)
}

// Hello is what the host sent in the handshake (policy, listeners).
func (g *Guest) Hello() wire.Hello {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hello
}

// TunnelAddr is the host address (a real loopback listener of this test
// process) that stands for the guest endpoint guestAddr: connecting to it
// is what connecting to guestAddr inside a VM does.
func (g *Guest) TunnelAddr(guestAddr string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tunnels[guestAddr]
}

// Boot attaches a sandbox to this guest with cfg, the way sandbox.Boot does
// to a VM: the handshake, policy and listeners are the real ones.
func (g *Guest) Boot(ctx context.Context, cfg sandbox.Config) (*sandbox.Sandbox, error) {
	host, guest := net.Pipe()
	secret := []byte("sandboxtest-secret-0123456789abcdef")
	m := newMachine(host)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer m.stopped()
		g.serve(guest, hex.EncodeToString(secret))
	}()
	return sandbox.Attach(ctx, cfg, m, secret, time.Now())
}

// Wait waits for every session the guest served to end.
func (g *Guest) Wait() { g.wg.Wait() }

func (g *Guest) serve(conn net.Conn, secret string) {
	defer conn.Close()
	r := wire.NewReader(conn, 64<<10)
	f, err := r.Expect(wire.THello)
	if err != nil {
		return
	}
	var h wire.Hello
	if f.Decode(&h) != nil || h.Secret != secret {
		_ = wire.WriteJSON(conn, wire.TReject, wire.Reject{Reason: "bad secret"})
		return
	}
	g.mu.Lock()
	g.hello = h
	g.mu.Unlock()
	if err := wire.WriteJSON(conn, wire.TWelcome, wire.Welcome{Version: wire.Version, Kernel: "sandboxtest", InitVersion: "sandboxtest"}); err != nil {
		return
	}
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive, cfg.LogOutput = false, io.Discard
	sess, err := yamux.Server(conn, cfg)
	if err != nil {
		return
	}
	defer sess.Close()
	var lns []net.Listener
	for _, l := range h.Listeners {
		ln, err := g.listen(sess, l)
		if err != nil {
			return
		}
		lns = append(lns, ln)
	}
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	// Programs end with the session (ctx is cancelled before the wait), as
	// a guest's processes end with its VM.
	var streams sync.WaitGroup
	defer streams.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			return
		}
		streams.Add(1)
		go func() {
			defer streams.Done()
			defer st.Close()
			if g.handle(ctx, st) {
				sess.Close()
			}
		}()
	}
}

// listen opens a loopback listener whose connections become tunnel
// streams to the host, as the guest init's listeners do.
func (g *Guest) listen(sess *yamux.Session, l wire.Listener) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.tunnels[l.Addr] = ln.Addr().String()
	g.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go tunnel(sess, l.Service, c)
		}
	}()
	return ln, nil
}

func tunnel(sess *yamux.Session, service string, c net.Conn) {
	defer c.Close()
	st, err := sess.OpenStream()
	if err != nil {
		return
	}
	defer st.Close()
	if wire.WriteJSON(st, wire.TTunnel, wire.Tunnel{Service: service}) != nil {
		return
	}
	if _, err := wire.NewReader(st, 0).Expect(wire.TOK); err != nil {
		return
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(st, c); st.Close(); close(done) }()
	_, _ = io.Copy(c, st)
	c.Close()
	<-done
}

// handle serves one host stream; it returns true when the host asked to
// shut down.
func (g *Guest) handle(ctx context.Context, st net.Conn) bool {
	r := wire.NewReader(st, 0)
	f, err := r.ReadFrame()
	if err != nil {
		return false
	}
	switch f.Type {
	case wire.TExec:
		g.exec(ctx, st, r, f)
	case wire.TWriteFile:
		g.writeFile(st, r, f)
	case wire.TReadFile:
		g.readFile(st, f)
	case wire.TStat:
		var req wire.PathRequest
		_ = f.Decode(&req)
		fi := wire.FileInfo{}
		if file := g.File(req.Path); file != nil {
			fi = wire.FileInfo{Exists: true, Size: int64(len(file.Data)), Mode: uint32(file.Mode)}
		}
		_ = wire.WriteJSON(st, wire.TStatResult, fi)
	case wire.TMkdir:
		_ = wire.WriteFrame(st, wire.TOK, nil)
	case wire.TMount:
		var m wire.Mount
		_ = f.Decode(&m)
		g.mu.Lock()
		g.mounts = append(g.mounts, m)
		g.mu.Unlock()
		_ = wire.WriteFrame(st, wire.TOK, nil)
	case wire.TPing:
		_ = wire.WriteJSON(st, wire.TPong, wire.Pong{})
	case wire.TShutdown:
		_ = wire.WriteFrame(st, wire.TOK, nil)
		return true
	default:
		_ = wire.WriteJSON(st, wire.TError, wire.Error{Code: wire.CodeInvalid, Message: fmt.Sprintf("unexpected %s frame", f.Type)})
	}
	return false
}

func (g *Guest) writeFile(st net.Conn, r *wire.Reader, f wire.Frame) {
	var req wire.WriteFile
	if err := f.Decode(&req); err != nil {
		return
	}
	var data []byte
	for {
		f, err := r.Expect(wire.TFileData, wire.TFileEnd)
		if err != nil {
			return
		}
		if f.Type == wire.TFileEnd {
			break
		}
		data = append(data, f.Payload...)
	}
	mode := fs.FileMode(req.Mode)
	if mode == 0 {
		mode = 0o644
	}
	g.mu.Lock()
	g.files[path.Clean(req.Path)] = &File{Data: data, Mode: mode, Root: req.Root}
	g.mu.Unlock()
	_ = wire.WriteFrame(st, wire.TOK, nil)
}

func (g *Guest) readFile(st net.Conn, f wire.Frame) {
	var req wire.ReadFile
	_ = f.Decode(&req)
	file := g.File(req.Path)
	if file == nil {
		_ = wire.WriteJSON(st, wire.TError, wire.Error{Code: wire.CodeNotFound, Message: req.Path + ": no such file"})
		return
	}
	_ = wire.WriteJSON(st, wire.TFileInfo, wire.FileInfo{Exists: true, Size: int64(len(file.Data)), Mode: uint32(file.Mode)})
	for b := file.Data; len(b) > 0; {
		n := min(len(b), wire.ChunkSize)
		_ = wire.WriteFrame(st, wire.TFileData, b[:n])
		b = b[n:]
	}
	_ = wire.WriteFrame(st, wire.TFileEnd, nil)
}

func (g *Guest) exec(ctx context.Context, st net.Conn, r *wire.Reader, f wire.Frame) {
	var req wire.ExecRequest
	if err := f.Decode(&req); err != nil || len(req.Argv) == 0 {
		return
	}
	g.mu.Lock()
	g.execs = append(g.execs, append([]string(nil), req.Argv...))
	prog := g.programs[req.Argv[0]]
	policy := g.hello.Policy
	g.mu.Unlock()
	start := time.Now()
	exit := func(x wire.ExecExit) {
		x.DurationMicros = time.Since(start).Microseconds()
		_ = wire.WriteJSON(st, wire.TExecExit, x)
	}
	if !req.System && !req.Root {
		if err := wire.CheckCommandAllowed(policy.AllowedCommands, req.Argv[0]); err != nil {
			exit(wire.ExecExit{ExitCode: 126, Error: err.Error()})
			return
		}
	}
	if prog == nil {
		exit(wire.ExecExit{ExitCode: 127, Error: req.Argv[0] + ": command not found"})
		return
	}
	_ = wire.WriteJSON(st, wire.TExecStart, wire.ExecStarted{PID: 2})
	var stdin io.Reader = strings.NewReader("")
	if req.Stdin {
		pr, pw := io.Pipe()
		stdin = pr
		go func() {
			for {
				f, err := r.ReadFrame()
				if err != nil || f.Type == wire.TStdinClose {
					pw.Close()
					return
				}
				if f.Type == wire.TStdin {
					_, _ = pw.Write(f.Payload)
				}
			}
		}()
	}
	var mu sync.Mutex // one frame at a time on the stream
	out := func(t wire.Type) io.Writer {
		return writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			for b := p; len(b) > 0; {
				n := min(len(b), wire.ChunkSize)
				if err := wire.WriteFrame(st, t, b[:n]); err != nil {
					return 0, err
				}
				b = b[n:]
			}
			return len(p), nil
		})
	}
	code := prog(ctx, &Process{Args: req.Argv, Env: req.Env, Dir: req.Dir, Root: req.Root, System: req.System,
		Stdin: stdin, Stdout: out(wire.TStdout), Stderr: out(wire.TStderr), Guest: g})
	mu.Lock()
	defer mu.Unlock()
	exit(wire.ExecExit{ExitCode: code})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// machine is the sandbox.Machine of an in-process guest.
type machine struct {
	conn net.Conn
	done chan struct{}
	once sync.Once
}

var _ sandbox.Machine = (*machine)(nil)

func newMachine(c net.Conn) *machine { return &machine{conn: c, done: make(chan struct{})} }

func (m *machine) stopped()                     { m.once.Do(func() { close(m.done) }) }
func (m *machine) Conn() net.Conn               { return m.conn }
func (m *machine) Done() <-chan struct{}        { return m.done }
func (m *machine) PanicMessage() string         { return "" }
func (m *machine) ConsoleTail(int) string       { return "" }
func (m *machine) PID() int                     { return 0 }
func (m *machine) Dir() string                  { return "" }
func (m *machine) Shutdown(grace time.Duration) { m.wait(grace) }

func (m *machine) Exited() (bool, string) {
	select {
	case <-m.done:
		return true, "exited"
	default:
		return false, ""
	}
}

func (m *machine) Close() error {
	m.conn.Close()
	m.wait(5 * time.Second)
	return nil
}

func (m *machine) wait(d time.Duration) {
	select {
	case <-m.done:
	case <-time.After(d):
	}
}
