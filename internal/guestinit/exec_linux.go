package guestinit

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
)

// Defaults applied when the host's policy leaves a limit at zero.
var defaultLimits = wire.Limits{
	Processes:   1024,
	OpenFiles:   4096,
	FileSize:    1 << 30,
	CPUSeconds:  0, // no CPU-time limit unless asked
	OutputBytes: 64 << 20,
}

const defaultPath = wire.DefaultPath

// pipeGrace is how long output is still collected after the command exited,
// for background children that inherited its stdout/stderr.
const pipeGrace = 200 * time.Millisecond

func (srv *server) handleExec(st net.Conn, r *wire.Reader, f wire.Frame) {
	var req wire.ExecRequest
	if err := f.Decode(&req); err != nil || len(req.Argv) == 0 || req.Argv[0] == "" {
		sendError(st, wire.CodeInvalid, "exec: empty or malformed command")
		return
	}
	env := buildEnv(req.Env, req.Root)
	start := time.Now()
	spec, refused := srv.prepare(req, env, start)
	if refused != nil {
		_ = wire.WriteFrame(st, wire.TStderr, []byte("voidbox: "+refused.Error+"\n"))
		_ = wire.WriteJSON(st, wire.TExecExit, refused)
		return
	}
	lim := spec.Limits
	p, err := srv.spawner.start(spec, req.Stdin)
	if err != nil {
		code := 126
		var se *startError
		if errors.As(err, &se) {
			code = se.code
		}
		_ = wire.WriteFrame(st, wire.TStderr, []byte("voidbox: "+err.Error()+"\n"))
		_ = wire.WriteJSON(st, wire.TExecExit, wire.ExecExit{ExitCode: code, Error: err.Error(), DurationMicros: time.Since(start).Microseconds()})
		return
	}
	_ = wire.WriteJSON(st, wire.TExecStart, wire.ExecStarted{PID: p.pid})

	var wg sync.WaitGroup
	var dropped [2]int64
	for i, s := range []struct {
		r io.ReadCloser
		t wire.Type
	}{{p.stdout, wire.TStdout}, {p.stderr, wire.TStderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dropped[i] = pump(st, s.r, s.t, lim.OutputBytes)
		}()
	}
	go readHostFrames(r, p)

	var timedOut bool
	var timeout <-chan time.Time
	var deadline time.Time // zero: no time limit
	if req.TimeoutMs > 0 {
		d := time.Duration(req.TimeoutMs) * time.Millisecond
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
		// Everything the command started, whatever process group or
		// session it made for itself.
		p.cgroup.killAll()
		p.killGroup(syscall.SIGKILL)
		ws = <-p.done
	}
	// Output may still be in flight; background children may hold the pipes.
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(pipeGrace):
		p.stdout.Close()
		p.stderr.Close()
		<-waited
	}
	p.closeStdin()
	oom := p.cgroup.oomKilled()
	srv.spawner.cgroups.put(p.cgroup, deadline)
	exit := wire.ExecExit{
		ExitCode:        ws.code,
		Signal:          ws.signal,
		TimedOut:        timedOut,
		StdoutDropped:   dropped[0],
		StderrDropped:   dropped[1],
		DurationMicros:  time.Since(start).Microseconds(),
		MaxRSSKilobytes: ws.maxRSS,
		OOMKilled:       oom,
	}
	srv.denials(&exit, p.cgroup)
	_ = wire.WriteJSON(st, wire.TExecExit, exit)
}

// pump forwards r as frames of type t until EOF, sending at most limit bytes
// and draining (and counting) the rest so the command never blocks on a full pipe.
func pump(w io.Writer, r io.Reader, t wire.Type, limit int64) (dropped int64) {
	buf := make([]byte, wire.ChunkSize)
	var sent int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			keep := int64(n)
			if sent+keep > limit {
				keep = max(limit-sent, 0)
			}
			if keep > 0 {
				if werr := wire.WriteFrame(w, t, buf[:keep]); werr != nil {
					limit = sent // host gone: drain silently
				}
				sent += keep
			}
			dropped += int64(n) - keep
		}
		if err != nil {
			return dropped
		}
	}
}

// readHostFrames applies stdin and signal frames from the host to the process.
func readHostFrames(r *wire.Reader, p *process) {
	for {
		f, err := r.ReadFrame()
		if err != nil {
			p.closeStdin()
			return
		}
		switch f.Type {
		case wire.TStdin:
			p.writeStdin(f.Payload)
		case wire.TStdinClose:
			p.closeStdin()
		case wire.TSignal:
			var s wire.Signal
			if f.Decode(&s) == nil && s.Signal > 0 && s.Signal < 65 {
				p.killGroup(syscall.Signal(s.Signal))
			}
		}
	}
}

// resolveCommand finds the program like a shell would and applies the command
// allowlist (wire.AllowedProgram; nil: none). A non-zero code is the
// exit status to report (127 not found, 126 not executable or not allowed)
// and msg says why. A name the allowlist refuses is refused before the
// lookup, so an unlisted command reads the same whether it exists or not.
// Relative paths (argv[0] or PATH entries) are relative to dir, the
// command's working directory, as they will be for the command.
func resolveCommand(name, dir, pathEnv string, allowed, trusted []string) (path string, code int, msg string) {
	if err := wire.CheckCommandAllowed(allowed, name); err != nil {
		return "", 126, notAllowed(name, err)
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if strings.Contains(name, "/") {
		path = abs(name)
	} else {
		for _, d := range filepath.SplitList(pathEnv) {
			if d == "" {
				continue
			}
			c := filepath.Join(abs(d), name)
			if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
				path = c
				break
			}
		}
		if path == "" {
			return "", 127, name + ": command not found"
		}
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", 127, name + ": no such file or directory"
	case err != nil:
		return "", 126, fmt.Sprintf("%s: %v", name, err)
	case fi.IsDir():
		return "", 126, name + ": is a directory"
	case fi.Mode()&0o111 == 0:
		return "", 126, name + ": permission denied"
	}
	path, err = wire.AllowedProgram(allowed, path, trusted...)
	if err != nil {
		return "", 126, notAllowed(name, err)
	}
	return path, 0, ""
}

// notAllowedText marks the message of a command the allowlist refused.
const notAllowedText = "command not allowed by sandbox policy"

func notAllowed(name string, err error) string {
	return fmt.Sprintf("%s: %s (%v)", filepath.Base(name), notAllowedText, err)
}

func buildEnv(req []string, root bool) []string {
	env := make([]string, 0, len(req)+4)
	has := map[string]bool{}
	for _, kv := range req {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" {
			has[k] = true
			env = append(env, kv)
		}
	}
	home, user := SandboxHome, "sandbox"
	if root {
		home, user = "/root", "root"
	}
	for _, kv := range []string{"PATH=" + defaultPath, "HOME=" + home, "USER=" + user, "LOGNAME=" + user, "TERM=dumb"} {
		k, _, _ := strings.Cut(kv, "=")
		if !has[k] {
			env = append(env, kv)
		}
	}
	return env
}

func envPath(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return defaultPath
}

func mergeLimits(l, d wire.Limits) wire.Limits {
	if l.Processes == 0 {
		l.Processes = d.Processes
	}
	if l.OpenFiles == 0 {
		l.OpenFiles = d.OpenFiles
	}
	if l.FileSize == 0 {
		l.FileSize = d.FileSize
	}
	if l.CPUSeconds == 0 {
		l.CPUSeconds = d.CPUSeconds
	}
	if l.OutputBytes <= 0 {
		l.OutputBytes = d.OutputBytes
	}
	return l
}
