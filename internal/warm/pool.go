package warm

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/voidbox/voidbox/internal/sandbox"
)

// pool keeps Options.Pool restores of one template parked: one worker per
// place, each restoring a VM, holding it until a start takes it, then
// restoring the next. The channel is unbuffered, so a VM is either held by
// its worker (and stopped by it at Close) or owned by the start that
// received it: never both, never handed out twice.
type pool struct {
	ready chan *sandbox.Parked
	dead  chan struct{} // closed when every worker has given up
	alive atomic.Int32
	held  atomic.Int32 // workers holding a parked VM, waiting for a start
}

// poolFailures is how many restores in a row a worker tries before giving
// up (starts then restore on demand, which report their own errors).
const poolFailures = 3

// startPool starts t's workers. Precondition: s.mu held, s.closed false.
func (s *Starter) startPool(cfg sandbox.Config, t *template) *pool {
	p := &pool{ready: make(chan *sandbox.Parked), dead: make(chan struct{})}
	// Parked VMs belong to no box: no name, console, listeners or events of
	// the first box that asked for the configuration.
	pc := cfg
	pc.Name, pc.ConsoleLog = "pool", ""
	pc.Listeners, pc.Services = nil, nil
	pc.OnEvent, pc.OnQueued, pc.OnAdmitted = nil, nil, nil
	p.alive.Store(int32(s.pool))
	for range s.pool {
		s.workers.Go(func() { s.work(pc, t, p) })
	}
	return p
}

// work keeps one parked VM of t ready until s.ctx ends.
func (s *Starter) work(cfg sandbox.Config, t *template, p *pool) {
	defer func() {
		if p.alive.Add(-1) == 0 {
			close(p.dead)
		}
	}()
	fails := 0
	for s.ctx.Err() == nil {
		pk, err := sandbox.RestoreParked(s.ctx, cfg, t.dir, t.meta, t.mem)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			if fails++; fails >= poolFailures {
				s.log.Warn("warm pool: giving up on a place", "err", err)
				return
			}
			s.log.Warn("warm pool: restore failed", "err", err)
			select {
			case <-time.After(time.Second):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		fails = 0
		p.held.Add(1)
		select {
		case p.ready <- pk:
			p.held.Add(-1)
		case <-pk.Done():
			p.held.Add(-1)
			pk.Close() // its QEMU died while parked: make another
		case <-s.ctx.Done():
			p.held.Add(-1)
			pk.Close()
			return
		}
	}
}

// take resumes a parked VM as cfg's sandbox, waiting for one if every
// place is being refilled. ok is false when the pool cannot serve (all its
// workers gave up, or the VM taken failed: err says why) and the caller
// should restore on demand.
func (p *pool) take(ctx context.Context, cfg sandbox.Config) (_ *sandbox.Sandbox, ok bool, _ error) {
	select {
	case pk := <-p.ready:
		sb, err := pk.Resume(ctx, cfg)
		return sb, err == nil, err
	case <-p.dead:
		return nil, false, nil
	case <-ctx.Done():
		return nil, true, context.Cause(ctx)
	}
}
