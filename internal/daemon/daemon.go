// Package daemon is `voidbox serve`'s service: the /v1 API (openapi.yaml)
// over durable state (internal/store), runs queued and executed under
// server-wide limits, their event streams as Server-Sent Events, and
// interactive sandboxes reaped when idle. It is an http.Handler; the
// listeners, tokens and timeouts are internal/apiserver's.
//
// Lifecycle: New recovers the store (runs in flight when a previous daemon
// died are failed with "daemon restarted"; its sandboxes, whose VMs died
// with it, are deleted), then serves. Shutdown refuses new work, cancels or
// drains the runs, closes every sandbox and returns once no VM is left.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/store"
)

// Config is a daemon's configuration. Zero values take the defaults below.
type Config struct {
	Store store.Store
	// StoreKind names the store in /v1/health (sqlite, fs, valkey).
	StoreKind string
	// MaxVMs caps the VMs running at once, runs' and sandboxes' together.
	// It also caps the runs executing at once (each needs a VM); more wait
	// queued.
	MaxVMs int
	// MaxQueued caps the runs waiting for a turn; a submission past it is
	// refused with 429.
	MaxQueued int
	// Drain makes Shutdown let accepted runs (queued ones too) finish,
	// instead of cancelling them; DrainTimeout bounds the wait, after which
	// they are cancelled.
	Drain        bool
	DrainTimeout time.Duration
	// SandboxIdle closes a sandbox after this long without a request;
	// MaxSandboxIdle caps what a client may ask for.
	SandboxIdle    time.Duration
	MaxSandboxIdle time.Duration
	// Host is how runs and sandboxes boot their VMs.
	Host voidbox.HostOptions
	// Remote says what a submitted spec may name (see RemotePolicy).
	Remote RemotePolicy
	// Telemetry starts a run's OTLP export; nil: none.
	Telemetry TelemetryFunc
	Version   string
	Logger    *slog.Logger
}

// Defaults.
const (
	DefaultMaxQueued      = 1000
	DefaultDrainTimeout   = 10 * time.Minute
	DefaultSandboxIdle    = 10 * time.Minute
	DefaultMaxSandboxIdle = 24 * time.Hour
)

// DefaultMaxVMs is the host's core count: TCG VMs beyond it only contend.
func DefaultMaxVMs() int { return runtime.NumCPU() }

// RestartReason is the error of runs a dead daemon left in flight.
const RestartReason = "daemon restarted"

// Errors of Shutdown and cancellation, as run errors.
var (
	errCancelled    = errors.New("cancelled through the API")
	errShuttingDown = errors.New("daemon shutting down")
)

// Daemon serves the API. Create it with New; it is an http.Handler.
type Daemon struct {
	cfg   Config
	st    store.Store
	log   *slog.Logger
	slots *slots
	mux   *http.ServeMux

	// ctx lives until Shutdown is over: runs and sandboxes derive from it.
	ctx  context.Context
	stop context.CancelFunc
	// work counts the goroutines of runs, sandbox watchers and the reaper;
	// Shutdown waits for them.
	work sync.WaitGroup

	mu       sync.Mutex
	draining bool                // guarded by mu: Shutdown began
	queue    []*active           // guarded by mu: accepted runs waiting, oldest first
	reserved int                 // guarded by mu: submissions being created
	running  map[string]*active  // guarded by mu
	boxes    map[string]*liveBox // guarded by mu: interactive sandboxes
}

// New recovers the store and returns a daemon ready to serve.
func New(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.Store == nil {
		return nil, errors.New("daemon: no store")
	}
	if cfg.MaxVMs == 0 {
		cfg.MaxVMs = DefaultMaxVMs()
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.SandboxIdle == 0 {
		cfg.SandboxIdle = DefaultSandboxIdle
	}
	if cfg.MaxSandboxIdle == 0 {
		cfg.MaxSandboxIdle = DefaultMaxSandboxIdle
	}
	if cfg.MaxVMs < 1 || cfg.MaxQueued < 0 || cfg.SandboxIdle < 0 || cfg.SandboxIdle > cfg.MaxSandboxIdle {
		return nil, fmt.Errorf("daemon: bad limits: max VMs %d, max queued %d, sandbox idle %v (max %v)",
			cfg.MaxVMs, cfg.MaxQueued, cfg.SandboxIdle, cfg.MaxSandboxIdle)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cfg: cfg, st: cfg.Store, log: cfg.Logger, slots: newSlots(cfg.MaxVMs),
		running: map[string]*active{}, boxes: map[string]*liveBox{}}
	if err := d.recover(ctx); err != nil {
		return nil, err
	}
	d.ctx, d.stop = context.WithCancel(context.Background())
	d.mux = d.routes()
	d.work.Go(d.reap)
	return d, nil
}

// recover fails the runs a previous daemon left in flight and deletes its
// sandboxes: their QEMUs died with it (the kernel kills a VM whose parent
// dies), so nothing is left to reattach to.
func (d *Daemon) recover(ctx context.Context) error {
	runs, err := d.st.RecoverAfterRestart(ctx, RestartReason)
	if err != nil {
		return fmt.Errorf("daemon: recovering runs: %w", err)
	}
	for _, r := range runs {
		d.log.Warn("run failed: the daemon restarted during it", "run", r.ID, "name", r.Name)
	}
	sbs, err := d.st.ListSandboxes(ctx)
	if err != nil {
		return fmt.Errorf("daemon: listing sandboxes: %w", err)
	}
	for _, sb := range sbs {
		if err := d.st.DeleteSandbox(ctx, sb.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("daemon: deleting sandbox %s of the previous daemon: %w", sb.ID, err)
		}
		d.log.Warn("sandbox closed: the daemon restarted", "sandbox", sb.ID)
	}
	return nil
}

// ServeHTTP serves the API.
func (d *Daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// VMs is how many VMs are booting or running.
func (d *Daemon) VMs() int { return d.slots.InUse() }

// Shutdown stops taking runs and sandboxes, then cancels the runs (or with
// Config.Drain lets them finish, for up to DrainTimeout or until ctx ends),
// closes every sandbox, and returns once every VM is gone. Requests other
// than submissions keep being served meanwhile, so clients can follow the
// drain; stop the HTTP server after it.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	if d.draining {
		d.mu.Unlock()
		return errors.New("daemon: already shut down")
	}
	d.draining = true
	d.mu.Unlock()

	if d.cfg.Drain {
		dctx, cancel := context.WithTimeout(ctx, d.cfg.DrainTimeout)
		err := d.waitRuns(dctx)
		cancel()
		if err != nil {
			d.log.Warn("drain cut short: cancelling the runs left", "err", err)
		}
	}
	d.cancelAll(errShuttingDown)
	if err := d.waitRuns(context.Background()); err != nil {
		return err
	}
	d.closeSandboxes()
	d.stop()
	d.work.Wait()
	if n := d.slots.InUse(); n != 0 {
		return fmt.Errorf("daemon: %d VMs still held after shutdown", n)
	}
	return nil
}

// isDraining reports whether Shutdown began.
func (d *Daemon) isDraining() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.draining
}
