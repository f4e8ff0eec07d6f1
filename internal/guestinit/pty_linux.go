package guestinit

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/voidbox/voidbox/internal/wire"
)

// handlePty runs a command on a new pseudo-terminal: the same resolution,
// allowlist, rlimits, cgroup and timeout as handleExec, with the terminal
// as the command's stdin, stdout and stderr and its controlling tty.
func (srv *server) handlePty(st net.Conn, r *wire.Reader, f wire.Frame) {
	var req wire.PtyRequest
	if err := f.Decode(&req); err != nil || len(req.Exec.Argv) == 0 || req.Exec.Argv[0] == "" {
		sendError(st, wire.CodeInvalid, "pty: empty or malformed command")
		return
	}
	x := req.Exec
	env := buildEnv(x.Env, x.Root)
	if !hasKey(x.Env, "TERM") { // an explicit TERM in the command's env wins
		env = setEnv(env, "TERM", termName(req.Term))
	}
	start := time.Now()
	fail := func(exit *wire.ExecExit) {
		exit.DurationMicros = time.Since(start).Microseconds()
		_ = wire.WriteFrame(st, wire.TStdout, []byte("voidbox: "+exit.Error+"\r\n"))
		_ = wire.WriteJSON(st, wire.TExecExit, exit)
	}
	spec, refused := srv.prepare(x, env, start)
	if refused != nil {
		fail(refused)
		return
	}
	master, tty, err := openPTY(req.Size, !x.Root)
	if err != nil {
		fail(&wire.ExecExit{ExitCode: 126, Error: "opening a terminal: " + err.Error()})
		return
	}
	defer master.Close()
	p, err := srv.spawner.startOnTTY(spec, tty)
	tty.Close() // the child has its copies; the master sees EIO once they are gone
	if err != nil {
		code := 126
		var se *startError
		if errors.As(err, &se) {
			code = se.code
		}
		fail(&wire.ExecExit{ExitCode: code, Error: err.Error()})
		return
	}
	_ = wire.WriteJSON(st, wire.TExecStart, wire.ExecStarted{PID: p.pid})

	var wg sync.WaitGroup
	wg.Go(func() { pump(st, master, wire.TStdout, 1<<62) })
	go readPtyFrames(r, p, master)

	var timedOut bool
	var timeout <-chan time.Time
	var deadline time.Time // zero: no time limit
	if x.TimeoutMs > 0 {
		d := time.Duration(x.TimeoutMs) * time.Millisecond
		deadline = time.Now().Add(d)
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	var ws exitStatus
	select {
	case ws = <-p.done:
	case <-timeout:
		timedOut = true
		p.cgroup.killAll()
		p.killGroup(syscall.SIGKILL)
		ws = <-p.done
	}
	// The session's other processes keep the terminal open: the leader's
	// exit ends the session (the kernel hangs them up), and what they print
	// within the grace still reaches the host.
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(pipeGrace):
		master.Close()
		<-waited
	}
	oom := p.cgroup.oomKilled()
	srv.spawner.cgroups.put(p.cgroup, deadline)
	exit := wire.ExecExit{
		ExitCode: ws.code, Signal: ws.signal, TimedOut: timedOut,
		DurationMicros: time.Since(start).Microseconds(), MaxRSSKilobytes: ws.maxRSS, OOMKilled: oom,
	}
	srv.denials(&exit, p.cgroup)
	_ = wire.WriteJSON(st, wire.TExecExit, exit)
}

// readPtyFrames applies the host's keys, window sizes and signals.
func readPtyFrames(r *wire.Reader, p *process, master *os.File) {
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return
		}
		switch f.Type {
		case wire.TStdin:
			if _, err := master.Write(f.Payload); err != nil {
				return
			}
		case wire.TResize:
			var ws wire.WindowSize
			if f.Decode(&ws) == nil {
				_ = setWinsize(master, ws) // the kernel sends SIGWINCH to the foreground job
			}
		case wire.TSignal:
			var s wire.Signal
			if f.Decode(&s) == nil && s.Signal > 0 && s.Signal < 65 {
				p.killGroup(syscall.Signal(s.Signal))
				if s.Signal == int(syscall.SIGKILL) {
					p.cgroup.killAll()
				}
			}
		}
	}
}

// openPTY opens a new pseudo-terminal pair of the given size. The terminal
// end belongs to the sandbox user when forUser, as login would make it.
func openPTY(size wire.WindowSize, forUser bool) (master, tty *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var n uint32
	err = control(master, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
			return fmt.Errorf("unlockpt: %w", err)
		}
		var err error
		n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN) // ptsname
		return err
	})
	if err == nil {
		err = setWinsize(master, size)
	}
	if err == nil {
		tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err == nil && forUser {
		err = tty.Chown(SandboxUID, SandboxGID)
	}
	if err != nil {
		master.Close()
		if tty != nil {
			tty.Close()
		}
		return nil, nil, err
	}
	return master, tty, nil
}

func setWinsize(master *os.File, ws wire.WindowSize) error {
	if ws.Rows == 0 || ws.Cols == 0 {
		ws = wire.WindowSize{Rows: 24, Cols: 80}
	}
	return control(master, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: ws.Rows, Col: ws.Cols})
	})
}

// control runs fn on f's descriptor without taking it out of the runtime's
// poller (f.Fd would make it blocking, and Close could then not interrupt
// a Read).
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// termName is the TERM the host asked for if it is a plausible terminfo
// name, else xterm.
func termName(t string) string {
	if t == "" || len(t) > 64 {
		return "xterm"
	}
	for _, r := range t {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '+'
		if !ok {
			return "xterm"
		}
	}
	return t
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if len(kv) > len(key) && kv[:len(key)+1] == key+"=" {
			return true
		}
	}
	return false
}

// setEnv sets key in env, replacing any value it had.
func setEnv(env []string, key, value string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) > len(key) && kv[:len(key)+1] == key+"=" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, key+"="+value)
}
