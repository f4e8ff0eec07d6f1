package attach

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/wire"
)

// Execer runs a command in the VM (*sandbox.Sandbox).
type Execer interface {
	Exec(ctx context.Context, c sandbox.Cmd) (*sandbox.Result, error)
}

// maxSocketPath is sun_path's size minus its NUL (unix(7)).
const maxSocketPath = 107

// Server serves attach for one VM. Emit feeds it the attempt's events.
type Server struct {
	info Info
	dir  string
	ln   net.Listener
	box  Execer
	hub  *hub

	ctx    context.Context // ends every session on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and every session

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}

	closeOnce sync.Once
}

// Listen starts serving attach for the VM whose private runtime directory
// is dir.
func Listen(dir string, info Info, box Execer) (*Server, error) {
	sock := filepath.Join(dir, SocketName)
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("attach socket path %s is longer than %d bytes", sock, maxSocketPath)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	// The directory is 0700 already; the socket is the owner's alone too.
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	b, _ := json.Marshal(info)
	tmp := filepath.Join(dir, "."+InfoName)
	err = os.WriteFile(tmp, b, 0o600)
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, InfoName))
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("writing %s: %w", InfoName, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{info: info, dir: dir, ln: ln, box: box, hub: newHub(), ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.accept)
	return s, nil
}

// Emit records an event of the attempt for followers.
func (s *Server) Emit(ev event.Event) { s.hub.add(ev) }

// Close ends every follow and shell, waits for them, and removes the
// socket and attach.json. Idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.ln.Close()
		s.cancel()
		s.hub.close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		os.Remove(filepath.Join(s.dir, InfoName))
		os.Remove(filepath.Join(s.dir, SocketName))
	})
	return nil
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serve(c)
		})
	}
}

func (s *Server) serve(c net.Conn) {
	if err := checkPeer(c); err != nil {
		reply(c, err)
		return
	}
	br := bufio.NewReaderSize(c, maxLine)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		reply(c, fmt.Errorf("malformed request: %v", err))
		return
	}
	switch req.Mode {
	case ModeFollow:
		s.follow(c, br)
	case ModeShell:
		if !s.info.Shell {
			reply(c, ShellRefused(s.info.Stage))
			return
		}
		s.shell(c, br, req)
	default:
		reply(c, fmt.Errorf("unknown mode %q (follow or shell)", req.Mode))
	}
}

// ShellRefused is why a stage without attach_shell gets no shell.
func ShellRefused(stage string) error {
	return fmt.Errorf("stage %q does not allow a shell: set sandbox.attach_shell: true for it in the spec (it is off by default)", stage)
}

func reply(w io.Writer, err error) error {
	r := Reply{OK: err == nil}
	if err != nil {
		r.Error = err.Error()
	}
	b, _ := json.Marshal(r)
	_, werr := w.Write(append(b, '\n'))
	return werr
}

// follow streams the attempt's events as JSON lines until it ends or the
// client leaves.
func (s *Server) follow(c net.Conn, br *bufio.Reader) {
	if reply(c, nil) != nil {
		return
	}
	past, live := s.hub.subscribe()
	defer s.hub.unsubscribe(live)
	gone := make(chan struct{})
	s.wg.Go(func() { // the client says nothing more: EOF means it left
		io.Copy(io.Discard, br)
		close(gone)
	})
	w := bufio.NewWriter(c)
	send := func(ev event.Event) bool {
		b, err := json.Marshal(ev)
		if err == nil {
			w.Write(append(b, '\n'))
		}
		return err == nil
	}
	for _, ev := range past {
		send(ev)
	}
	if w.Flush() != nil {
		return
	}
	for {
		select {
		case <-gone:
			return
		case ev, ok := <-live:
			if !ok {
				return
			}
			send(ev)
			if w.Flush() != nil {
				return
			}
		}
	}
}

// shell runs the attach shell on a guest terminal, relaying the client's
// keys and sizes and the terminal's output, until the shell exits, the
// client leaves (the shell is then killed) or the attempt ends.
func (s *Server) shell(c net.Conn, br *bufio.Reader, req Request) {
	if reply(c, nil) != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	keys, typist := io.Pipe()
	resize := make(chan sandbox.WindowSize, 1)
	s.wg.Go(func() {
		defer cancel() // the client left: end the shell
		defer typist.Close()
		r := wire.NewReader(br, 0)
		for {
			f, err := r.ReadFrame()
			if err != nil {
				return
			}
			switch f.Type {
			case wire.TStdin:
				if _, err := typist.Write(f.Payload); err != nil {
					return
				}
			case wire.TResize:
				var ws sandbox.WindowSize
				if f.Decode(&ws) == nil {
					select {
					case <-resize:
					default:
					}
					resize <- ws
				}
			}
		}
	})
	out := &frameWriter{w: c, t: wire.TStdout}
	res, err := s.box.Exec(ctx, sandbox.Cmd{Args: []string{policy.AttachShellCommand}, Stdin: keys, Stdout: out,
		Env: map[string]string{"PS1": s.info.Stage + `:\w\$ `}, Timeout: -1,
		TTY: &sandbox.TTY{Rows: req.Rows, Cols: req.Cols, Term: req.Term, Resize: resize}})
	exit := wire.ExecExit{ExitCode: 255}
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		return // the client left, or the attempt ended: nobody to tell
	case err != nil:
		exit.Error = err.Error()
	default:
		exit = wire.ExecExit{ExitCode: res.ExitCode, Signal: res.Signal, TimedOut: res.TimedOut, Error: res.Error}
	}
	_ = wire.WriteJSON(c, wire.TExecExit, exit)
	c.Close() // ends the key reader
}

// frameWriter sends each write as frames of type t.
type frameWriter struct {
	w io.Writer
	t wire.Type
}

func (f *frameWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += wire.ChunkSize {
		end := min(off+wire.ChunkSize, len(p))
		if err := wire.WriteFrame(f.w, f.t, p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}
