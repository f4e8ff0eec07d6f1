package voidbox

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"time"

	"github.com/voidbox/voidbox/internal/admission"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/stage"
)

// Sandbox is one running micro-VM. Its methods are safe for concurrent use.
type Sandbox struct {
	s *sandbox.Sandbox
}

// Info describes a booted sandbox.
type Info = sandbox.Info

// Forwarded is a running sandbox's port forward, as bound (Info.Forwards).
type Forwarded = sandbox.Forwarded

// NetStats are a sandbox's network counters.
type NetStats = sandbox.NetStats

// New boots a sandbox. The VM lives until Close is called or ctx ends,
// whichever comes first; either way QEMU is stopped and its runtime directory
// removed. Boot failures are *BootError (errors.Is(err, ErrBoot)) with the
// last lines of the serial console.
//
// New changes nothing on the host: it boots from the image Setup prepared
// (or cfg.Image) and fails with ErrMissingDependency, saying what to run,
// when there is none.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host := cfg.Host
	if cfg.Image.Kernel != "" {
		host.Image = cfg.Image
	}
	h, err := resolveHost(ctx, host, false)
	if err != nil {
		return nil, err
	}
	c := h.config(cfg.Name, cfg.Policy, h.image(cfg.Image))
	c.ConsoleLog = cfg.ConsoleLog
	if sink := cfg.Events; sink != nil {
		c.OnEvent = func(d event.Data) { sink.Emit(event.Event{Time: time.Now(), Run: cfg.Name, Data: d}) }
		c.OnQueued = func(st admission.Status) { emitNow(sink, stage.QueuedEvent(st)) }
		c.OnAdmitted = func(waited time.Duration) { emitNow(sink, EventVMAdmitted{WaitMS: waited.Milliseconds()}) }
	}
	s, err := sandbox.Boot(ctx, c)
	if err != nil {
		return nil, err
	}
	return &Sandbox{s: s}, nil
}

// emitNow sends d to sink as an event of now.
func emitNow(sink EventSink, d EventData) { sink.Emit(Event{Time: time.Now(), Data: d}) }

// Info describes the running sandbox.
func (s *Sandbox) Info() Info { return s.s.Info() }

// Done is closed when the VM has stopped.
func (s *Sandbox) Done() <-chan struct{} { return s.s.Done() }

// Close stops the VM (asking the guest to power off first, briefly), waits
// for QEMU to exit and removes the runtime directory. Idempotent.
func (s *Sandbox) Close() error { return s.s.Close() }

// Policy is the sandbox's policy, with defaults applied.
func (s *Sandbox) Policy() Policy { return s.s.Policy() }

// NetStats returns the network counters so far (final after Close).
func (s *Sandbox) NetStats() NetStats { return s.s.NetStats() }

// Ping round-trips an empty request to the guest init.
func (s *Sandbox) Ping(ctx context.Context) error { return s.s.Ping(ctx) }

// Cmd is a command to run in the sandbox as the sandbox user (uid 1000),
// subject to the policy's command allowlist.
type Cmd struct {
	Args []string          // program and arguments; the program is looked up in PATH
	Env  map[string]string // merged over Policy.Env
	Dir  string            // working directory (default /workspace)
	// Stdin feeds the command; nil gives it /dev/null.
	Stdin io.Reader
	// Stdout and Stderr receive output as it is produced. When nil, output is
	// captured into Result (up to Policy.OutputLimit bytes per stream).
	Stdout, Stderr io.Writer
	// Timeout overrides Policy.Timeout for this command (negative: none).
	// The limit covers every process the command starts: what it leaves
	// running in the background is killed when the limit passes.
	Timeout time.Duration
	// OnStart is called with the guest pid once the command is running.
	OnStart func(pid int)
	// TTY runs the command on a guest pseudo-terminal, as an interactive
	// shell would be: Stdin is its keyboard, Stdout gets everything the
	// terminal shows (stderr included). The allowlist, rlimits and timeout
	// apply as to any command.
	TTY *TTY
}

// TTY is the guest terminal of a command: its size, TERM and later sizes.
type TTY = sandbox.TTY

// WindowSize is a terminal's size in character cells.
type WindowSize = sandbox.WindowSize

// Result is how a command ended. A command that ran and failed is a Result
// with a non-zero ExitCode, not an error; errors are reserved for the sandbox.
type Result = sandbox.Result

// Exec runs a command and waits for it. If ctx ends first, the command's
// process group is terminated and ctx's error is returned.
func (s *Sandbox) Exec(ctx context.Context, c Cmd) (*Result, error) {
	return s.s.Exec(ctx, sandbox.Cmd{Args: c.Args, Env: c.Env, Dir: c.Dir, Stdin: c.Stdin,
		Stdout: c.Stdout, Stderr: c.Stderr, Timeout: c.Timeout, OnStart: c.OnStart, TTY: c.TTY})
}

// FileInfo describes a guest path.
type FileInfo = sandbox.FileInfo

// WriteFile writes data to an absolute guest path, creating parent
// directories. The file belongs to the sandbox user, and the write is done
// with that user's permissions.
func (s *Sandbox) WriteFile(ctx context.Context, path string, data []byte, perm fs.FileMode) error {
	return s.s.WriteFileFrom(ctx, path, bytes.NewReader(data), perm)
}

// WriteFileFrom is WriteFile streaming from r.
func (s *Sandbox) WriteFileFrom(ctx context.Context, path string, r io.Reader, perm fs.FileMode) error {
	return s.s.WriteFileFrom(ctx, path, r, perm)
}

// ReadFile reads a guest file of at most DefaultReadLimit bytes.
func (s *Sandbox) ReadFile(ctx context.Context, path string) ([]byte, error) {
	var b bytes.Buffer
	err := s.s.ReadFileTo(ctx, path, DefaultReadLimit, &b)
	return b.Bytes(), err
}

// ReadFileTo streams a guest file into w, failing with ErrTooLarge if it is
// larger than maxBytes.
func (s *Sandbox) ReadFileTo(ctx context.Context, path string, maxBytes int64, w io.Writer) error {
	return s.s.ReadFileTo(ctx, path, maxBytes, w)
}

// Stat describes a guest path; ok is false if it does not exist.
func (s *Sandbox) Stat(ctx context.Context, path string) (fi FileInfo, ok bool, err error) {
	return s.s.Stat(ctx, path)
}

// Mkdir creates a guest directory and its parents, owned by the sandbox user.
func (s *Sandbox) Mkdir(ctx context.Context, path string, perm fs.FileMode) error {
	return s.s.Mkdir(ctx, path, perm)
}
