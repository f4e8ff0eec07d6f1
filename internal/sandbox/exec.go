package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/wire"
)

// Identity says who a command runs as and under which policy.
type Identity int

const (
	// AsUser is a user command: the sandbox user (uid 1000), subject to
	// the command allowlist.
	AsUser Identity = iota
	// AsSystem is a voidbox component started by the host (an agent
	// runtime): the sandbox user, not subject to the allowlist, which it
	// enforces itself on the commands it runs.
	AsSystem
	// AsRoot is a provisioning step of the host (linking a runtime in):
	// root in the guest. User-supplied commands never take this path.
	AsRoot
)

// Cmd is a command to run in the sandbox.
type Cmd struct {
	Args []string          // program and arguments; the program is looked up in PATH
	Env  map[string]string // merged over Config.Env
	Dir  string            // working directory (default /workspace)
	// Stdin feeds the command; nil gives it /dev/null.
	Stdin io.Reader
	// Stdout and Stderr receive output as it is produced. When nil, output is
	// captured into Result (up to Config.OutputLimit bytes per stream).
	Stdout, Stderr io.Writer
	// Timeout overrides Config.Timeout for this command (negative: none).
	// The limit covers every process the command starts: what it leaves
	// running in the background is killed when the limit passes.
	Timeout time.Duration
	// OnStart is called with the guest pid once the command is running.
	OnStart func(pid int)
	// As is who runs it (default AsUser).
	As Identity
	// TTY runs the command on a guest pseudo-terminal (an interactive
	// shell): Stdin is its keyboard and Stdout gets the terminal's output,
	// stderr included; Stderr is unused. Output streamed to Stdout is not
	// held to the output cap, which is for captured and piped output: a
	// terminal is interactive and paced by its reader.
	TTY *TTY
}

// TTY is the terminal a command runs on.
type TTY struct {
	Rows, Cols uint16 // 0: 24×80
	Term       string // the guest's TERM ("" : xterm)
	// Resize delivers later window sizes; nil if the size never changes.
	Resize <-chan WindowSize
}

// WindowSize is a terminal's size in character cells.
type WindowSize = wire.WindowSize

// Result is how a command ended. A command that ran and failed is a Result with
// a non-zero ExitCode, not an error; errors are reserved for the sandbox.
type Result struct {
	ExitCode int  // like a shell: 127 not found, 126 not runnable, 128+n for signal n
	Signal   int  // the signal that ended the command, if any
	TimedOut bool // killed because its timeout expired
	// OOMKilled says the guest kernel's out-of-memory killer killed a
	// process of this command (see Reason).
	OOMKilled bool
	Error     string // why the command could not run, if it did not
	Stdout    []byte // captured output (when Cmd.Stdout was nil)
	Stderr    []byte
	// StdoutDropped and StderrDropped count bytes discarded past the output cap.
	StdoutDropped, StderrDropped int64
	Duration                     time.Duration
	// Denied lists programs the command allowlist refused to the command
	// or to processes it started, as the guest kernel's check reported them
	// (at most wire.MaxDenials; DeniedCount counts all).
	Denied      []Denial
	DeniedCount int
}

// Denial is one program the guest's allowlist check refused. Its text is
// the guest's, clipped: untrusted, for display.
type Denial struct {
	PID     int    `json:"pid,omitempty"`
	Program string `json:"program"`
	Path    string `json:"path,omitempty"`
	Reason  string `json:"reason"`
	// Killed: the process was killed (a busybox applet run without an
	// exec) rather than refused an exec.
	Killed bool `json:"killed,omitempty"`
}

// denials copies the guest's report, bounded.
func denials(x wire.ExecExit) ([]Denial, int) {
	var out []Denial
	for i, d := range x.Denied {
		if i == wire.MaxDenials {
			break
		}
		out = append(out, Denial{PID: d.PID, Program: clip(d.Program, 256), Path: clip(d.Path, 1024),
			Reason: clip(d.Reason, 1024), Killed: d.Killed})
	}
	return out, max(x.DeniedCount, len(out))
}

func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Reason says in a few words why a command that ran was killed ("killed:
// out of memory", "timed out"), or "" when it was not.
func (r *Result) Reason() string {
	switch {
	case r.TimedOut:
		return "timed out"
	case r.OOMKilled:
		return "killed: out of memory"
	}
	return ""
}

// Truncated reports whether any output was dropped at the cap.
func (r *Result) Truncated() bool { return r.StdoutDropped > 0 || r.StderrDropped > 0 }

// timeoutGrace is how long past a command's time limit the host waits for
// the guest to report it before it stops the VM.
const timeoutGrace = 10 * time.Second

// Exec runs a command and waits for it. If ctx ends first, the command's
// process group is terminated and ctx's error is returned.
func (s *Sandbox) Exec(ctx context.Context, c Cmd) (*Result, error) {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return nil, fmt.Errorf("exec: %w: empty command", ErrInvalid)
	}
	if err := s.gone(); err != nil {
		return nil, s.wrap("exec", control.ErrClosed)
	}
	timeout := s.cfg.Policy.Timeout
	if c.Timeout != 0 {
		timeout = c.Timeout
	}
	if timeout < 0 {
		timeout = 0
	}
	req := wire.ExecRequest{
		Argv:      c.Args,
		Env:       mergeEnv(s.env, c.Env),
		Dir:       c.Dir,
		TimeoutMs: timeout.Milliseconds(),
		System:    c.As == AsSystem,
		Root:      c.As == AsRoot,
	}
	if req.Dir == "" {
		req.Dir = s.dir // the image's WorkingDir, or "" for the guest's default
	}
	if c.As == AsRoot && req.Dir == "" {
		req.Dir = "/"
	}
	var outBuf, errBuf bytes.Buffer
	stdout, stderr := c.Stdout, c.Stderr
	if stdout == nil {
		stdout = &outBuf
	}
	if stderr == nil {
		stderr = &errBuf
	}
	// The guest caps each stream too, but the guest is not trusted to.
	capOut := &capWriter{w: stdout, left: s.cfg.Policy.OutputLimit}
	capErr := &capWriter{w: stderr, left: s.cfg.Policy.OutputLimit}
	var tty *control.TTY
	if c.TTY != nil {
		tty = &control.TTY{Size: WindowSize{Rows: c.TTY.Rows, Cols: c.TTY.Cols}, Term: c.TTY.Term, Resize: c.TTY.Resize}
		if c.Stdout != nil {
			capOut.left = math.MaxInt64
		}
	}
	ectx := ctx
	if timeout > 0 {
		// Backstop in case the guest never reports its own timeout.
		var cancel context.CancelFunc
		ectx, cancel = context.WithTimeout(ctx, timeout+timeoutGrace)
		defer cancel()
	}
	x, err := s.client.Exec(ectx, req, control.ExecIO{Stdin: c.Stdin, Stdout: capOut, Stderr: capErr, OnStart: c.OnStart, TTY: tty})
	if err != nil {
		if ctx.Err() == nil && ectx.Err() != nil {
			// The guest init is wedged (or lying): the VM cannot be
			// trusted to run anything else, so it is stopped, and every
			// later call says why.
			why := fmt.Errorf("the guest did not end %s within %v past its %v time limit: the VM was stopped", c.Args[0], timeoutGrace, timeout)
			s.stop(why)
			return nil, fmt.Errorf("exec %s: %w: %w", c.Args[0], ErrVMGone, why)
		}
		return nil, s.wrap("exec "+c.Args[0], err)
	}
	res := &Result{
		ExitCode:      x.ExitCode,
		Signal:        x.Signal,
		TimedOut:      x.TimedOut,
		OOMKilled:     x.OOMKilled,
		Error:         x.Error,
		StdoutDropped: x.StdoutDropped + capOut.dropped(),
		StderrDropped: x.StderrDropped + capErr.dropped(),
		Duration:      time.Duration(x.DurationMicros) * time.Microsecond,
	}
	res.Denied, res.DeniedCount = denials(x)
	if c.Stdout == nil {
		res.Stdout = outBuf.Bytes()
	}
	if c.Stderr == nil {
		res.Stderr = errBuf.Bytes()
	}
	return res, nil
}

func mergeEnv(base, over map[string]string) []string {
	m := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range over {
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// capWriter forwards at most left bytes and counts the rest.
type capWriter struct {
	mu    sync.Mutex // guards left, over
	w     io.Writer
	left  int64
	over  int64
	wrErr error
}

func (c *capWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := int64(len(p))
	keep := min(n, max(c.left, 0))
	if keep > 0 && c.wrErr == nil {
		_, c.wrErr = c.w.Write(p[:keep])
	}
	c.left -= keep
	c.over += n - keep
	return len(p), nil
}

func (c *capWriter) dropped() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.over
}

// NewCapWriter returns a writer that forwards the first limit bytes to w
// and drops (and counts) the rest; it never fails the writer.
func NewCapWriter(w io.Writer, limit int64) io.Writer { return &capWriter{w: w, left: limit} }
