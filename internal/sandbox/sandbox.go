package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/admission"
	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/netstack"
	"github.com/voidbox/voidbox/internal/netstack/dns"
	"github.com/voidbox/voidbox/internal/policy"
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
	// BootTimeout bounds the boot from admission until the guest init
	// answers (0: 60s), not counting time the guest waited for a host CPU
	// (see bootDeadline).
	BootTimeout time.Duration
	// Admission is the host-wide gate the boot waits at for a boot slot and
	// its memory (nil: a gate over admission.DefaultDir with the default
	// budget for Accel).
	Admission *admission.Gate
	// OnQueued, if set, is told when the boot has to wait for a slot and,
	// at most once a second, how the queue moves; OnAdmitted, after such a
	// wait, how long it waited. Both run on the booting goroutine.
	OnQueued   func(admission.Status)
	OnAdmitted func(waited time.Duration)
	// ConsoleLog keeps the serial console in this file (default: a file in
	// the VM's runtime directory, removed on Close).
	ConsoleLog string
	// Shares are host directories exported with virtio-9p (a runtime's
	// files). The policy's Mounts are added to them (virtiofs).
	Shares []vmm.Share
	// Images opens OCI images: the policy's Image and ImageMounts. Needed
	// only when either is set.
	Images ImageStore
	// ImageMounts are OCI images mounted read-only at guest paths (OCI
	// skills).
	ImageMounts []ImageMount
	// VirtioFSD is the virtiofsd binary of host mounts (""
	// vmm.DefaultVirtioFSD).
	VirtioFSD string
	// Listeners are guest loopback endpoints tunnelled to Services.
	Listeners []wire.Listener
	Services  map[string]control.TunnelHandler
	// OnEvent receives the sandbox's events as they happen: the network's
	// net.allowed and net.denied (from the stack's goroutines, so it must
	// be safe for concurrent use and not block). nil discards them.
	OnEvent func(event.Data)
	// Resolver looks up the names a networked box may resolve (nil: the
	// host's resolver); `hosts:` entries never reach it.
	Resolver dns.Resolver
	// MTU of the guest's network interface (0: netstack.DefaultMTU).
	MTU int
	// NetBaseline is for `voidbox bench net` only: the VM's network device
	// goes to QEMU's own slirp (vmm.BaselineSlirp) or to a passt socket
	// instead of voidbox's stack, so no policy decides anything. It needs
	// the public network policy (to say there is a device) and no ports.
	NetBaseline string
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
	// Confine is how QEMU is jailed (Host.Confine, probed once per run).
	Confine vmm.Confinement
	// Snapshots is the store Policy.Snapshot names resolve in (""
	// refuses names; paths need no store).
	Snapshots string
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
	cfg     Config
	m       Machine
	client  *control.Client
	info    Info
	storage *storage // what Boot attached; its holds are released once the VM is gone
	// env and dir are what every command starts with unless it says
	// otherwise: the image's Env under the policy's, the image's WorkingDir.
	env map[string]string
	dir string

	slot *admission.Slot // the VM's memory on the host budget; nil for Attach
	// net is the box's network stack; nil without network. It outlives
	// nothing: closed with the VM, by Close or by the exit watcher.
	net *netstack.Stack

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
	QueueWait   time.Duration // waiting for admission (a boot slot and memory)
	BootTime    time.Duration // from admission to the guest init's welcome
	QEMUPID     int
	RuntimeDir  string
	// Confinement is what QEMU runs under (its own uid, cgroup, seccomp),
	// and why any part is missing.
	Confinement vmm.ConfineStatus
	// Forwards are the port forwards into the guest, as bound.
	Forwards []Forwarded
	// Image is the digest of the OCI image the root file system is from,
	// "" for voidbox's initramfs.
	Image string
	// Snapshot is the directory of the snapshot the VM was restored from,
	// "" for a boot.
	Snapshot string
}

// Boot starts QEMU for cfg and completes the handshake. The VM lives until
// Close is called or ctx ends, whichever comes first; either way QEMU is
// stopped and its runtime directory removed. Boot failures are *BootError
// (errors.Is(err, ErrBoot)) with the last lines of the serial console. A
// policy that names a Snapshot is restored from it instead (Restore).
func Boot(ctx context.Context, cfg Config) (*Sandbox, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if cfg.Policy.Snapshot != "" {
		return bootSnapshot(ctx, cfg)
	}
	cfg = cfg.withDefaults()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	st, err := prepareStorage(ctx, cfg)
	if err != nil {
		return nil, err
	}
	slot, err := admit(ctx, cfg)
	if err != nil {
		st.release()
		return nil, err
	}
	// A long wait gives a concurrent set-up time to prune or replace the
	// image: say so as a missing dependency (the CLI sets up and retries),
	// not as a failed boot.
	for _, f := range []string{cfg.Kernel, cfg.Initramfs} {
		if _, err := os.Stat(f); f != "" && err != nil {
			slot.Release()
			st.release()
			return nil, fmt.Errorf("%w: guest image: %w", ErrMissingDependency, err)
		}
	}
	start := time.Now() // the boot deadline runs from admission
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
		Shares:     append(slices.Clip(cfg.Shares), st.shares...),
		Disks:      st.disks,
		Cmdline:    st.preload(),
		VirtioFSD:  cfg.VirtioFSD,
		CPUModel:   cfg.CPUModel,
		Confine:    cfg.Confine,
		NIC:        cfg.nic(),
	})
	if err != nil {
		st.release()
		slot.Release()
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &BootError{Reason: "starting qemu: " + err.Error()}
	}
	return attach(ctx, cfg, m, secret, start, st, slot)
}

// Attach completes the handshake with the guest init behind m and returns
// the sandbox; m is closed on failure. Boot uses it for QEMU; tests use it
// for an in-process guest. The policy's Image and Mounts and cfg's
// ImageMounts are Boot's: Attach asks the guest for none of them. A policy
// with a network needs a machine with a network device (NetConn); its
// stack starts before the handshake, which tells the guest how to
// configure its interface.
func Attach(ctx context.Context, cfg Config, m Machine, secret []byte, start time.Time) (*Sandbox, error) {
	return attach(ctx, cfg, m, secret, start, &storage{}, nil)
}

// attach is Attach holding st and slot (released on failure and when the
// VM stops).
func attach(ctx context.Context, cfg Config, m Machine, secret []byte, start time.Time, st *storage, slot *admission.Slot) (*Sandbox, error) {
	cfg = cfg.withDefaults()
	stack, netCfg, fwds, err := startNetwork(cfg, m)
	if err != nil {
		m.Close()
		st.release()
		if slot != nil {
			slot.Release()
		}
		return nil, &BootError{Reason: err.Error()}
	}
	bootCtx, stopWatch := watchBoot(ctx, m.PID(), cfg.BootTimeout, start)
	pol := cfg.Policy.Wire()
	pol.TrustedDirs = trustedDirs(cfg.ImageMounts)
	client, err := control.Handshake(bootCtx, m.Conn(), secret, control.Options{
		Policy: pol, Listeners: cfg.Listeners, Services: cfg.Services, Storage: st.wire,
		Network: netCfg, CACerts: string(cfg.Policy.CACerts)})
	stopWatch()
	if err != nil {
		if stack != nil {
			stack.Close()
		}
		return nil, bootFailed(ctx, m, err, st, slot)
	}
	return newSandbox(cfg, m, client, start, st, slot, stack, fwds), nil
}

// bootFailed closes m after a failed handshake and says why, from QEMU's
// exit and the console when the guest died. st and slot are released.
func bootFailed(ctx context.Context, m Machine, err error, st *storage, slot *admission.Slot) error {
	defer st.release()
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
	if slot != nil {
		slot.Release()
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return &BootError{Reason: reason, ConsoleTail: tail}
}

// newSandbox is the sandbox of a VM whose guest init answered.
func newSandbox(cfg Config, m Machine, client *control.Client, start time.Time, st *storage, slot *admission.Slot, stack *netstack.Stack, fwds []Forwarded) *Sandbox {
	w := client.Welcome()
	if slot != nil {
		slot.Booted() // the next VM may boot; this one keeps its memory
	}
	s := &Sandbox{
		cfg:    cfg,
		m:      m,
		client: client,
		net:    stack,
		slot:   slot,
		info: Info{
			Forwards:    fwds,
			Kernel:      w.Kernel,
			InitVersion: w.InitVersion,
			Accel:       string(cfg.Accel.Accel),
			AccelReason: cfg.Accel.Reason,
			QueueWait:   slot.Waited(),
			BootTime:    time.Since(start),
			QEMUPID:     m.PID(),
			RuntimeDir:  m.Dir(),
		},
		watchDone: make(chan struct{}),
		storage:   st,
		env:       imageEnv(nil),
	}
	if st.root != nil {
		s.env = imageEnv(st.root.Env)
		s.dir = imageDir(st.root)
		s.info.Image = st.root.Digest
	}
	for k, v := range cfg.Policy.Env {
		s.env[k] = v
	}
	if p, ok := commandPath(s.env, cfg.ImageMounts); ok {
		s.env["PATH"] = p
	}
	if c, ok := m.(interface{ Confinement() vmm.ConfineStatus }); ok {
		s.info.Confinement = c.Confinement()
	}
	go s.watch()
	cfg.Logger.Info("sandbox booted", "name", cfg.Name, "kernel", w.Kernel, "accel", cfg.Accel.Accel, "boot", s.info.BootTime)
	return s
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
	if c.OnEvent == nil {
		c.OnEvent = func(event.Data) {}
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
	// QEMU has exited: nothing reads the image files any more.
	s.storage.release()
	s.releaseSlot()
	s.closeNet()
}

// releaseSlot gives the VM's memory back to the host budget once QEMU is gone.
func (s *Sandbox) releaseSlot() {
	if s.slot != nil {
		s.slot.Release()
	}
}

// closeNet stops the network (every flow, every forward) once QEMU is gone.
func (s *Sandbox) closeNet() {
	if s.net != nil {
		s.net.Close()
	}
}

// NetStats returns the network counters so far (final once Close returned).
func (s *Sandbox) NetStats() NetStats {
	if s.net == nil {
		return NetStats{}
	}
	return s.net.Stats()
}

func (s *Sandbox) setGone(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.goneErr == nil {
		s.goneErr = err
	}
}

// stop ends a VM that stopped answering: QEMU is killed, and every later
// call fails with why (the watcher then releases what the VM held).
func (s *Sandbox) stop(why error) {
	s.setGone(why)
	_ = s.m.Close()
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
		s.releaseSlot()
		<-s.watchDone
		s.closeNet()
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
	// Admission is the gate every boot of this host waits at (nil: the
	// default gate, see Config.Admission).
	Admission *admission.Gate
	Logger    *slog.Logger
	// Images is the OCI image cache boots open images from (nil: boots
	// that ask for an image fail, saying so).
	Images ImageStore
	// VirtioFSD is the virtiofsd of host mounts ("": vmm.DefaultVirtioFSD).
	VirtioFSD string
	// Confine is how QEMU is jailed on this host (vmm.ProbeConfinement).
	Confine vmm.Confinement
	// Snapshots is the directory of named snapshots (Config.Snapshots).
	Snapshots string
}

// Config is the boot of one VM named name with policy p from the given
// kernel and initramfs on this host.
func (h Host) Config(name string, p policy.Sandbox, kernel, initramfs string) Config {
	return Config{Name: name, Policy: p, QEMU: h.QEMU, Kernel: kernel, Initramfs: initramfs,
		Accel: h.Accel, TSCkHz: h.TSCkHz, CPUModel: h.CPUModel, BootTimeout: h.BootTimeout,
		Admission: h.Admission, Logger: h.Logger, Images: h.Images, VirtioFSD: h.VirtioFSD, Confine: h.Confine,
		Snapshots: h.Snapshots}
}
