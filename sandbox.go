package voidbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/wire"
)

// Sandbox is one running micro-VM. Its methods are safe for concurrent use.
type Sandbox struct {
	cfg    Config
	m      *vmm.Machine
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
	Kernel       string        // guest kernel release
	AgentVersion string        // guest agent build
	Accel        string        // kvm or tcg
	AccelReason  string        // why that accelerator
	BootTime     time.Duration // from QEMU start to the agent's welcome
	QEMUPID      int
	RuntimeDir   string
}

// New boots a sandbox. The VM lives until Close is called or ctx ends,
// whichever comes first; either way QEMU is stopped and its runtime directory
// removed. Boot failures are *BootError (errors.Is(err, ErrBoot)) with the
// last lines of the serial console.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	env, err := prepareHost(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return boot(ctx, cfg, env)
}

// hostEnv is everything resolved on the host before a boot.
type hostEnv struct {
	qemu   string
	image  Image
	accel  vmm.AccelChoice
	tscKHz int
}

func boot(ctx context.Context, cfg Config, env hostEnv) (*Sandbox, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	start := time.Now()
	m, err := vmm.Start(ctx, vmm.Config{
		QEMU:       env.qemu,
		Kernel:     env.image.Kernel,
		Initramfs:  env.image.Initramfs,
		MemoryMiB:  cfg.MemoryMiB,
		CPUs:       cfg.CPUs,
		Accel:      env.accel.Accel,
		TSCkHz:     env.tscKHz,
		Secret:     secret,
		Name:       cfg.Name,
		ConsoleLog: cfg.ConsoleLog,
		Shares:     cfg.shares,
		CPUModel:   os.Getenv("VOIDBOX_QEMU_CPU"),
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &BootError{Reason: "starting qemu: " + err.Error()}
	}
	bootCtx, cancel := context.WithTimeoutCause(ctx, cfg.BootTimeout,
		fmt.Errorf("guest agent did not answer within %v", cfg.BootTimeout))
	defer cancel()
	client, err := control.Handshake(bootCtx, m.Conn(), secret, control.Options{
		Policy: cfg.policy(), Listeners: cfg.listeners, Services: cfg.services})
	if err != nil {
		reason := err.Error()
		// If QEMU is exiting (panic, agent crash), wait briefly so the
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
			Kernel:       w.Kernel,
			AgentVersion: w.AgentVersion,
			Accel:        string(env.accel.Accel),
			AccelReason:  env.accel.Reason,
			BootTime:     time.Since(start),
			QEMUPID:      m.PID(),
			RuntimeDir:   m.Dir(),
		},
		watchDone: make(chan struct{}),
	}
	go s.watch()
	cfg.Logger.Info("sandbox booted", "name", cfg.Name, "kernel", w.Kernel, "accel", env.accel.Accel, "boot", s.info.BootTime)
	return s, nil
}

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

func (c Config) policy() wire.Policy {
	return wire.Policy{
		AllowedCommands: c.AllowedCommands, // nil and empty differ: keep which
		DiskBytes:       int64(c.DiskMiB) << 20,
		Limits: wire.Limits{
			Processes:   c.Limits.Processes,
			OpenFiles:   c.Limits.OpenFiles,
			FileSize:    c.Limits.FileSize,
			CPUSeconds:  c.Limits.CPUSeconds,
			OutputBytes: c.OutputLimit,
		},
	}
}

// Ping round-trips an empty request to the guest agent.
func (s *Sandbox) Ping(ctx context.Context) error {
	_, err := s.client.Ping(ctx)
	return s.wrap("ping", err)
}
