// Package warm starts a run's VMs from template snapshots: the first VM of a
// sandbox configuration costs a boot that is parked and saved right after
// the handshake, every VM of that configuration (the first included) is a
// copy-on-write restore of it. A template's device state lives in a
// private temporary directory removed by Close, its guest RAM in a sealed
// memfd (never written to disk) dropped by Close; nothing of a stage (env,
// files, commands) has reached a guest when its template is saved. With
// Options.Pool, each configuration also keeps that many restores parked
// and ready (pool.go).
package warm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/snapshot"
	"github.com/voidbox/voidbox/internal/vmm"
)

// Starter boots VMs warm where the configuration allows a snapshot and
// cold (sandbox.Boot) elsewhere. Safe for concurrent use.
type Starter struct {
	dir  string
	log  *slog.Logger
	pool int

	// ctx is the parked VMs' owner: Close cancels it, then waits for the
	// pool's workers (workers), which stop the VMs they still hold.
	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup

	mu        sync.Mutex           // guards templates and closed
	templates map[string]*template // by configuration key
	closed    bool
}

// Options configure a Starter.
type Options struct {
	// Logger receives warm-start logs; nil discards them.
	Logger *slog.Logger
	// Pool is how many restored VMs each configuration keeps parked and
	// ready once its template exists (0: none, every start restores on
	// demand). Each is handed out once and never returned: a VM a box
	// used is closed with the box.
	Pool int
}

// MaxPool bounds Options.Pool: each parked VM holds its memory.
const MaxPool = 32

// template is one configuration's snapshot; ready is closed once meta,
// mem and err are set.
type template struct {
	ready chan struct{}
	dir   string
	meta  snapshot.Meta
	mem   *vmm.MemoryImage // shared by every restore of the template
	err   error
	pool  *pool // nil without Options.Pool
}

// New returns a Starter keeping its templates in a new private directory
// under parent ("" for the temp dir).
func New(parent string, o Options) (*Starter, error) {
	if o.Pool < 0 || o.Pool > MaxPool {
		return nil, fmt.Errorf("warm pool of %d: want 0..%d", o.Pool, MaxPool)
	}
	dir, err := os.MkdirTemp(parent, "voidbox-warm-")
	if err != nil {
		return nil, fmt.Errorf("creating the template dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Starter{dir: dir, log: log, pool: o.Pool, ctx: ctx, cancel: cancel, templates: map[string]*template{}}, nil
}

// Dir is where the templates are.
func (s *Starter) Dir() string { return s.dir }

// Boot starts cfg's VM from its configuration's template, taking the
// template first if this is the configuration's first VM. A configuration
// that cannot be snapshotted, or whose template failed, boots cold.
func (s *Starter) Boot(ctx context.Context, cfg sandbox.Config) (*sandbox.Sandbox, error) {
	// A box naming its own snapshot restores that one (in sandbox.Boot).
	if cfg.Policy.Snapshot != "" || sandbox.Snapshottable(cfg) != nil {
		return sandbox.Boot(ctx, cfg)
	}
	t, err := s.template(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		s.log.Warn("warm start unavailable, booting cold", "name", cfg.Name, "err", err)
		return sandbox.Boot(ctx, cfg)
	}
	if t.pool != nil {
		sb, ok, err := t.pool.take(ctx, cfg)
		if ok || ctx.Err() != nil {
			return sb, err
		}
		if err != nil {
			s.log.Warn("parked VM failed, restoring on demand", "name", cfg.Name, "err", err)
		}
	}
	sb, err := sandbox.RestoreChecked(ctx, cfg, t.dir, t.meta, t.mem)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("restore failed, booting cold", "name", cfg.Name, "err", err)
		return sandbox.Boot(ctx, cfg)
	}
	return sb, err
}

// template returns cfg's template, taking it once per configuration;
// concurrent first VMs of one configuration wait for the same one.
func (s *Starter) template(ctx context.Context, cfg sandbox.Config) (*template, error) {
	key, err := Key(cfg)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("warm starter closed")
	}
	t, ok := s.templates[key]
	if !ok {
		t = &template{ready: make(chan struct{}), dir: filepath.Join(s.dir, key[:16])}
		s.templates[key] = t
	}
	s.mu.Unlock()
	if !ok {
		meta, mem, err := s.take(ctx, cfg, t.dir)
		s.mu.Lock()
		if s.closed && mem != nil {
			mem.Close() // Close has passed: nothing would close it
			mem, err = nil, fmt.Errorf("warm starter closed")
		}
		t.meta, t.mem, t.err = meta, mem, err
		if err == nil && s.pool > 0 {
			t.pool = s.startPool(cfg, t)
		}
		s.mu.Unlock()
		close(t.ready)
	}
	select {
	case <-t.ready:
		return t, t.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (s *Starter) take(ctx context.Context, cfg sandbox.Config, dir string) (snapshot.Meta, *vmm.MemoryImage, error) {
	m, err := sandbox.MachineOf(ctx, cfg)
	if err != nil {
		return snapshot.Meta{}, nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return snapshot.Meta{}, nil, err
	}
	tc := cfg
	tc.Name, tc.ConsoleLog = "template", ""
	tc.Listeners, tc.Services = nil, nil
	// Guest RAM stays in memory: the run's restores map it from there.
	meta, mem, err := sandbox.TemplateInMemory(ctx, tc, m, dir)
	if err != nil {
		os.RemoveAll(dir)
		return snapshot.Meta{}, nil, fmt.Errorf("taking the template: %w", err)
	}
	s.log.Info("template taken", "dir", dir, "save_ms", meta.SaveMS, "memory_bytes", meta.MemoryBytes)
	return meta, mem, nil
}

// Key identifies a sandbox configuration for warm starts: what the parked
// guest holds (policy's guest part, memory, vCPUs) and what it was booted
// with. Env and timeouts are not in it: they never reach a template.
func Key(cfg sandbox.Config) (string, error) {
	p := cfg.Policy.WithDefaults()
	b, err := json.Marshal(struct {
		QEMU, Kernel, Initramfs, Accel, CPU string
		TSC, Mem, CPUs                      int
		Guest                               any
		CACerts                             string
	}{cfg.QEMU, cfg.Kernel, cfg.Initramfs, string(cfg.Accel.Accel), cfg.CPUModel, cfg.TSCkHz, p.MemoryMiB, p.VCPUs, p.Wire(), string(p.CACerts)})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Parked is how many VMs the pools hold parked and ready right now.
func (s *Starter) Parked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.templates {
		if t.pool != nil {
			n += int(t.pool.held.Load())
		}
	}
	return n
}

// Close stops the parked VMs and every VM handed out from the pool (their
// QEMU belongs to the Starter: close it after the VMs' users are done),
// removes the templates and drops their memory images (VMs restored on
// demand keep their own mappings until they stop). Idempotent.
func (s *Starter) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	// No worker starts after closed is set (startPool runs under mu).
	s.cancel()
	s.workers.Wait()
	s.mu.Lock()
	for _, t := range s.templates {
		if t.mem != nil {
			t.mem.Close()
		}
	}
	s.mu.Unlock()
	return os.RemoveAll(s.dir)
}
