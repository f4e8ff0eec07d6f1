package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/policy"

	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/wire"
)

// Config is everything one boot needs, resolved: the policy, the guest
// image, QEMU and the accelerator, and what a stage adds (shares, tunnels).
type Config struct {
	// Name labels the VM in logs and runtime paths.
	Name   string
	Policy policy.Sandbox
	// QEMU, Kernel and Initramfs are host paths, resolved (see Host).
	QEMU, Kernel, Initramfs string
	Accel                   vmm.AccelChoice
	TSCkHz                  int // for TCG; 0 omits tsc_early_khz
	CPUModel                string
	// BootTimeout bounds the boot until the guest init answers (0: 60s).
	BootTimeout time.Duration
	// ConsoleLog keeps the serial console in this file (default: a file in
	// the VM's runtime directory, removed on Close).
	ConsoleLog string
	// Shares are host directories exported with virtio-9p.
	Shares []vmm.Share
	// Listeners are guest loopback endpoints tunnelled to Services.
	Listeners []wire.Listener
	Services  map[string]control.TunnelHandler
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
	// Confine is how QEMU is jailed (Host.Confine, probed once per run).
	Confine vmm.Confinement
}

// DefaultBootTimeout bounds a boot when Config.BootTimeout is zero.
const DefaultBootTimeout = 60 * time.Second

// Machine is the VM under a sandbox: a QEMU process (vmm.Machine), or in
// tests an in-process guest on the other end of a pipe.
type Machine interface {
	Conn() net.Conn
	Done() <-chan struct{}
	Exited() (bool, string)
	PanicMessage() string
	ConsoleTail(lines int) string
	Shutdown(grace time.Duration)
	Close() error
	PID() int
	Dir() string
}

var _ Machine = (*vmm.Machine)(nil)

// Sandbox is one running micro-VM. Its methods are safe for concurrent use.
type Sandbox struct {
	cfg    Config
	m      Machine
	client *control.Client
	info   Info

	closeOnce sync.Once
	closeErr  error
	watchDone chan struct{} // closed when the exit watcher returns

	mu      sync.Mutex // guards goneErr
	goneErr error      // why the VM is unusable (exited, closed)
}

// Info describes a booted sandbox.
type Info struct {
	Kernel      string        // guest kernel release
	InitVersion string        // guest init (voidbox-guest) build
	Accel       string        // kvm or tcg
	AccelReason string        // why that accelerator
	BootTime    time.Duration // from QEMU start to the guest init's welcome
	QEMUPID     int
	RuntimeDir  string
	// Confinement is what QEMU runs under (its own uid, cgroup, seccomp),
	// and why any part is missing.
	Confinement vmm.ConfineStatus
}

// Boot starts QEMU for cfg and completes the handshake. The VM lives until
// Close is called or ctx ends, whichever comes first; either way QEMU is
// stopped and its runtime directory removed. Boot failures are *BootError
// (errors.Is(err, ErrBoot)) with the last lines of the serial console.
func Boot(ctx context.Context, cfg Config) (*Sandbox, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	cfg = cfg.withDefaults()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	start := time.Now()
	m, err := vmm.Start(ctx, vmm.Config{
		QEMU:       cfg.QEMU,
		Kernel:     cfg.Kernel,
		Initramfs:  cfg.Initramfs,
		Policy:     cfg.Policy,
		Accel:      cfg.Accel.Accel,
		TSCkHz:     cfg.TSCkHz,
		Secret:     secret,
		Name:       cfg.Name,
		ConsoleLog: cfg.ConsoleLog,
		Shares:     cfg.Shares,
		CPUModel:   cfg.CPUModel,
		Confine:    cfg.Confine,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &BootError{Reason: "starting qemu: " + err.Error()}
	}
	return Attach(ctx, cfg, m, secret, start)
}

// Attach completes the handshake with the guest init behind m and returns
// the sandbox; m is closed on failure. Boot uses it for QEMU; tests use it
// for an in-process guest.
func Attach(ctx context.Context, cfg Config, m Machine, secret []byte, start time.Time) (*Sandbox, error) {
	cfg = cfg.withDefaults()
	bootCtx, cancel := context.WithTimeoutCause(ctx, cfg.BootTimeout,
		fmt.Errorf("the guest init did not answer within %v", cfg.BootTimeout))
	defer cancel()
	client, err := control.Handshake(bootCtx, m.Conn(), secret, control.Options{
		Policy: cfg.Policy.Wire(), Listeners: cfg.Listeners, Services: cfg.Services})
	if err != nil {
		reason := err.Error()
		// If QEMU is exiting (panic, init crash), wait briefly so the
		// console tail and exit status are complete.
		select {
		case <-m.Done():
		case <-time.After(500 * time.Millisecond):
		}
		if gone, why := m.Exited(); gone && !errors.Is(err, control.ErrRefused) {
			reason = "qemu exited during boot (" + why + ")"
			if p := m.PanicMessage(); p != "" {
				reason = "guest kernel panicked during boot: " + p
			}
		}
		tail := m.ConsoleTail(20)
		m.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, &BootError{Reason: reason, ConsoleTail: tail}
	}
	w := client.Welcome()
	s := &Sandbox{
		cfg:    cfg,
		m:      m,
		client: client,
		info: Info{
			Kernel:      w.Kernel,
			InitVersion: w.InitVersion,
			Accel:       string(cfg.Accel.Accel),
			AccelReason: cfg.Accel.Reason,
			BootTime:    time.Since(start),
			QEMUPID:     m.PID(),
			RuntimeDir:  m.Dir(),
		},
		watchDone: make(chan struct{}),
	}
	if c, ok := m.(interface{ Confinement() vmm.ConfineStatus }); ok {
		s.info.Confinement = c.Confinement()
	}
	go s.watch()
	cfg.Logger.Info("sandbox booted", "name", cfg.Name, "kernel", w.Kernel, "accel", cfg.Accel.Accel, "boot", s.info.BootTime)
	return s, nil
}

func (c Config) withDefaults() Config {
	c.Policy = c.Policy.WithDefaults()
	if c.BootTimeout == 0 {
		c.BootTimeout = DefaultBootTimeout
	}
	if c.Name == "" {
		c.Name = "sandbox"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Policy is the sandbox's policy, with defaults applied.
func (s *Sandbox) Policy() policy.Sandbox { return s.cfg.Policy }

// watch notices QEMU exiting on its own (kernel panic, guest poweroff, ctx
// cancel) and releases everything the sandbox holds.
func (s *Sandbox) watch() {
	defer close(s.watchDone)
	<-s.m.Done()
	_, why := s.m.Exited()
	reason := "the VM stopped (qemu " + why + ")"
	if p := s.m.PanicMessage(); p != "" {
		reason = "the guest kernel panicked: " + p
	}
	s.setGone(&BootError{Reason: reason, ConsoleTail: s.m.ConsoleTail(20)})
	s.client.Close()
	s.m.Close()
}

func (s *Sandbox) setGone(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.goneErr == nil {
		s.goneErr = err
	}
}

// gone returns why the sandbox is unusable, or nil.
func (s *Sandbox) gone() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.goneErr
}

// wrap turns channel errors into ErrVMGone with the reason once the VM died.
func (s *Sandbox) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, control.ErrClosed) {
		// Give the watcher a moment to record why QEMU went away.
		select {
		case <-s.m.Done():
			time.Sleep(10 * time.Millisecond)
		case <-time.After(200 * time.Millisecond):
		}
		if g := s.gone(); g != nil {
			if errors.Is(g, ErrClosed) {
				return fmt.Errorf("%s: %w", op, g)
			}
			return fmt.Errorf("%s: %w: %w", op, ErrVMGone, g)
		}
	}
	var we *wire.Error
	if errors.As(err, &we) {
		switch we.Code {
		case wire.CodeNotFound:
			return fmt.Errorf("%s: %w: %s", op, ErrNotFound, we.Message)
		case wire.CodeTooLarge:
			return fmt.Errorf("%s: %w: %s", op, ErrTooLarge, we.Message)
		case wire.CodeInvalid:
			return fmt.Errorf("%s: %w: %s", op, ErrInvalid, we.Message)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Info describes the running sandbox.
func (s *Sandbox) Info() Info { return s.info }

// Done is closed when the VM has stopped.
func (s *Sandbox) Done() <-chan struct{} { return s.m.Done() }

// Close stops the VM (asking the guest to power off first, briefly), waits
// for QEMU to exit and removes the runtime directory. Idempotent.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		s.setGone(ErrClosed)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		if s.client.Shutdown(ctx) == nil {
			s.m.Shutdown(time.Second)
		}
		cancel()
		s.client.Close()
		s.closeErr = s.m.Close()
		<-s.watchDone
	})
	return s.closeErr
}

// Ping round-trips an empty request to the guest init.
func (s *Sandbox) Ping(ctx context.Context) error {
	_, err := s.client.Ping(ctx)
	return s.wrap("ping", err)
}

// Host is what every boot on this host shares, resolved once per run.
type Host struct {
	QEMU        string
	Accel       vmm.AccelChoice
	TSCkHz      int
	CPUModel    string        // QEMU -cpu override ($VOIDBOX_QEMU_CPU)
	BootTimeout time.Duration // 0: DefaultBootTimeout
	Logger      *slog.Logger
	// Confine is how QEMU is jailed on this host (vmm.ProbeConfinement).
	Confine vmm.Confinement
}

// Config is the boot of one VM named name with policy p from the given
// kernel and initramfs on this host.
func (h Host) Config(name string, p policy.Sandbox, kernel, initramfs string) Config {
	return Config{Name: name, Policy: p, QEMU: h.QEMU, Kernel: kernel, Initramfs: initramfs,
		Accel: h.Accel, TSCkHz: h.TSCkHz, CPUModel: h.CPUModel, BootTimeout: h.BootTimeout, Logger: h.Logger, Confine: h.Confine}
}
