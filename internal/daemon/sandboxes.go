package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/store"
)

// liveBox is an interactive sandbox: its VM, and what the idle reaper
// needs.
type liveBox struct {
	rec    store.Sandbox
	name   string
	policy json.RawMessage
	idle   time.Duration
	sb     *voidbox.Sandbox
	stop   context.CancelFunc // ends the VM's context

	mu       sync.Mutex
	lastUsed time.Time // guarded by mu
	busy     int       // guarded by mu: requests in progress (an exec can outlast the idle time)
	closing  bool      // guarded by mu
}

// sandboxRecord is what the store keeps of a sandbox (its Config).
type sandboxRecord struct {
	Name        string          `json:"name,omitempty"`
	Policy      json.RawMessage `json:"policy"`
	IdleTimeout string          `json:"idle_timeout"`
}

// openSandbox boots a sandbox for req. It takes a VM slot at once or fails
// with 429: an interactive client is better told than kept waiting behind
// queued runs.
func (d *Daemon) openSandbox(ctx context.Context, req apiv1.CreateSandbox) (*liveBox, error) {
	p, err := decodePolicy(req.Policy)
	if err != nil {
		return nil, err
	}
	if len(req.Name) > 128 {
		return nil, apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "name", "over 128 bytes")
	}
	idle := d.cfg.SandboxIdle
	if req.IdleTimeout != "" {
		v, err := time.ParseDuration(req.IdleTimeout)
		if err != nil || v <= 0 || v > d.cfg.MaxSandboxIdle {
			return nil, apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "idle_timeout",
				"want a duration in (0, %v]", d.cfg.MaxSandboxIdle)
		}
		idle = v
	}
	if d.isDraining() {
		return nil, apiserver.Errorf(http.StatusServiceUnavailable, apiv1.CodeUnavailable, "", "the daemon is shutting down")
	}
	if !d.slots.TryAcquire() {
		return nil, apiserver.Errorf(http.StatusTooManyRequests, apiv1.CodeLimit, "",
			"all %d VM slots are in use (--max-vms); retry later", d.cfg.MaxVMs)
	}
	released := false
	release := func() {
		if !released {
			released = true
			d.slots.Release()
		}
	}
	defer release()
	pj, _ := json.Marshal(p)
	cfg, _ := json.Marshal(sandboxRecord{Name: req.Name, Policy: pj, IdleTimeout: idle.String()})
	rec, err := d.st.CreateSandbox(ctx, cfg)
	if err != nil {
		return nil, err
	}
	vmCtx, stop := context.WithCancel(d.ctx)
	name := req.Name
	if name == "" {
		name = "sandbox"
	}
	sb, err := voidbox.New(vmCtx, voidbox.Config{Name: name, Policy: p, Host: d.cfg.Host})
	if err != nil {
		stop()
		d.st.DeleteSandbox(context.WithoutCancel(ctx), rec.ID)
		return nil, apiserver.Errorf(http.StatusInternalServerError, apiserver.CodeInternal, "", "booting the sandbox: %v", err)
	}
	released = true // the watcher below gives the slot back when QEMU exits
	d.work.Go(func() {
		<-sb.Done()
		d.slots.Release()
	})
	lb := &liveBox{rec: rec, name: req.Name, policy: pj, idle: idle, sb: sb, stop: stop, lastUsed: time.Now()}
	d.mu.Lock()
	if d.draining { // Shutdown began while it booted and will not see it
		d.mu.Unlock()
		d.closeBox(lb)
		return nil, apiserver.Errorf(http.StatusServiceUnavailable, apiv1.CodeUnavailable, "", "the daemon is shutting down")
	}
	d.boxes[rec.ID] = lb
	d.mu.Unlock()
	return lb, nil
}

// decodePolicy reads and validates a sandbox policy (absent or null: the
// defaults).
func decodePolicy(raw json.RawMessage) (policy.Sandbox, error) {
	var p policy.Sandbox
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &p); err != nil {
			return p, policyError(err)
		}
	}
	if err := p.Validate(); err != nil {
		return p, policyError(err)
	}
	if len(p.Mounts) > 0 { // as for a spec: a client names no files on the daemon's host
		return p, apiserver.Errorf(http.StatusBadRequest, apiv1.CodeInvalidPolicy, "policy.mounts",
			"a client of the daemon cannot mount directories of its host")
	}
	// Host ports reach the daemon's host loopback and forwards listen on
	// it: neither is a remote client's to ask for.
	if len(p.Network.HostPorts) > 0 {
		return p, apiserver.Errorf(http.StatusBadRequest, apiv1.CodeInvalidPolicy, "policy.network.host_ports",
			"a client of the daemon cannot reach ports of its host")
	}
	if len(p.Ports) > 0 {
		return p, apiserver.Errorf(http.StatusBadRequest, apiv1.CodeInvalidPolicy, "policy.ports",
			"a client of the daemon cannot open ports on its host")
	}
	return p, nil
}

// policyError is a policy's problems as a 400 naming policy.FIELD.
func policyError(err error) error {
	ps := policy.AsProblems(err)
	if len(ps) == 0 {
		return apiserver.Errorf(http.StatusBadRequest, apiv1.CodeInvalidPolicy, "policy", "%v", err)
	}
	field := "policy"
	if ps[0].Field != "" {
		field += "." + ps[0].Field
	}
	return apiserver.Errorf(http.StatusBadRequest, apiv1.CodeInvalidPolicy, field, "%s", ps.Error())
}

// use marks a request on the sandbox; the returned func ends it.
func (d *Daemon) use(id string) (*liveBox, func(), error) {
	d.mu.Lock()
	lb, ok := d.boxes[id]
	d.mu.Unlock()
	if !ok {
		return nil, nil, apiserver.Errorf(http.StatusNotFound, apiserver.CodeNotFound, "", "sandbox %q: not found", id)
	}
	lb.mu.Lock()
	if lb.closing {
		lb.mu.Unlock()
		return nil, nil, apiserver.Errorf(http.StatusNotFound, apiserver.CodeNotFound, "", "sandbox %q: closed", id)
	}
	lb.busy++
	lb.lastUsed = time.Now()
	lb.mu.Unlock()
	return lb, func() {
		lb.mu.Lock()
		lb.busy--
		lb.lastUsed = time.Now()
		lb.mu.Unlock()
		d.st.TouchSandbox(context.Background(), id, time.Now())
	}, nil
}

// closeBox stops a sandbox's VM and forgets it.
func (d *Daemon) closeBox(lb *liveBox) {
	lb.mu.Lock()
	lb.closing = true
	lb.mu.Unlock()
	lb.sb.Close()
	lb.stop()
	d.mu.Lock()
	delete(d.boxes, lb.rec.ID)
	d.mu.Unlock()
	if err := d.st.DeleteSandbox(context.Background(), lb.rec.ID); err != nil {
		d.log.Error("deleting sandbox", "sandbox", lb.rec.ID, "err", err)
	}
}

// closeSandboxes closes every sandbox (at shutdown).
func (d *Daemon) closeSandboxes() {
	d.mu.Lock()
	var all []*liveBox
	for _, lb := range d.boxes {
		all = append(all, lb)
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, lb := range all {
		wg.Go(func() { d.closeBox(lb) })
	}
	wg.Wait()
}

// reapEvery is how often the reaper looks for idle sandboxes.
const reapEvery = time.Second

// reap closes sandboxes idle past their timeout, and ones whose VM
// stopped on its own, until the daemon stops.
func (d *Daemon) reap() {
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		d.mu.Lock()
		var idle []*liveBox
		for _, lb := range d.boxes {
			lb.mu.Lock()
			stopped := false
			select {
			case <-lb.sb.Done():
				stopped = true
			default:
			}
			if !lb.closing && (stopped || lb.busy == 0 && now.Sub(lb.lastUsed) > lb.idle) {
				lb.closing = true
				idle = append(idle, lb)
			}
			lb.mu.Unlock()
		}
		d.mu.Unlock()
		for _, lb := range idle {
			d.log.Info("closing idle sandbox", "sandbox", lb.rec.ID, "idle", lb.idle)
			d.closeBox(lb)
		}
	}
}

func (lb *liveBox) json() apiv1.Sandbox {
	lb.mu.Lock()
	last := lb.lastUsed
	lb.mu.Unlock()
	info := lb.sb.Info()
	return apiv1.Sandbox{ID: lb.rec.ID, Name: lb.name, Policy: lb.policy, IdleTimeout: lb.idle.String(),
		CreatedAt: lb.rec.Created, LastUsedAt: last.UTC(), Kernel: info.Kernel, Accel: info.Accel,
		BootMS: float64(info.BootTime.Microseconds()) / 1000}
}
