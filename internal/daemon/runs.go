package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/store"
)

// active is an accepted run that has not ended: queued, then running.
type active struct {
	id   string
	name string
	sub  *submission
	// cancel ends the run's context; set (under Daemon.mu) when it starts.
	cancel context.CancelCauseFunc
	// done is closed once the run's final status is stored.
	done chan struct{}
}

// submit stores a new run and queues it. With an idempotency key already
// used for the same request it returns that run and created=false.
func (d *Daemon) submit(ctx context.Context, sub *submission) (store.Run, bool, error) {
	d.mu.Lock()
	switch {
	case d.draining:
		d.mu.Unlock()
		return store.Run{}, false, apiserver.Errorf(http.StatusServiceUnavailable, apiv1.CodeUnavailable, "",
			"the daemon is shutting down")
	case len(d.queue)+d.reserved >= d.cfg.MaxQueued:
		d.mu.Unlock()
		return store.Run{}, false, apiserver.Errorf(http.StatusTooManyRequests, apiv1.CodeLimit, "",
			"%d runs are queued, the daemon's maximum (--max-queued); retry later", d.cfg.MaxQueued)
	}
	d.reserved++
	d.mu.Unlock()
	run, created, err := d.st.CreateRun(ctx, store.NewRun{Name: sub.name, Kind: sub.kind, Spec: sub.specText,
		Input: sub.input, IdempotencyKey: sub.key})
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reserved--
	if err != nil || !created {
		return run, created, err
	}
	a := &active{id: run.ID, name: run.Name, sub: sub, done: make(chan struct{})}
	d.queue = append(d.queue, a)
	d.schedule()
	return run, true, nil
}

// schedule starts queued runs while fewer than MaxVMs run.
// Precondition: d.mu held.
func (d *Daemon) schedule() {
	for len(d.queue) > 0 && len(d.running) < d.cfg.MaxVMs {
		a := d.queue[0]
		d.queue = d.queue[1:]
		var ctx context.Context
		ctx, a.cancel = context.WithCancelCause(d.ctx)
		d.running[a.id] = a
		d.work.Go(func() { d.execute(ctx, a) })
	}
}

// execute runs one run to its end and stores the outcome: events (through
// the recorder), stage outputs, then the final status and report, in that
// order (the store's promise to readers).
func (d *Daemon) execute(ctx context.Context, a *active) {
	defer func() {
		a.cancel(nil)
		d.mu.Lock()
		delete(d.running, a.id)
		d.schedule()
		d.mu.Unlock()
		close(a.done)
	}()
	bg := context.WithoutCancel(ctx) // store writes finish even when the run was cancelled
	if _, err := d.st.UpdateRun(bg, a.id, store.RunUpdate{Status: store.RunRunning}); err != nil {
		d.log.Error("starting run", "run", a.id, "err", err)
		msg := "the store refused to start the run: " + err.Error()
		d.appendFinished(bg, a, store.RunFailed, msg, 0)
		if _, err := d.st.UpdateRun(bg, a.id, store.RunUpdate{Status: store.RunFailed, Error: msg}); err != nil {
			d.log.Error("failing run", "run", a.id, "err", err)
		}
		return
	}
	rec := newRecorder(d.st, a.id, d.log)
	sinks := event.Sinks{rec}
	tel := d.startTelemetry(bg, a)
	if tel != nil {
		sinks = append(sinks, tel)
	}
	opts := voidbox.RunOptions{Input: a.sub.input, Events: sinks, Host: d.cfg.Host, VMSlots: d.slots}
	start := time.Now()
	rep, err := a.sub.job.Run(ctx, opts)
	finished := rec.Close()

	status, msg := outcome(ctx, rep, err)
	var report []byte
	if rep != nil {
		for _, s := range rep.Stages {
			if s.Output == nil {
				continue
			}
			out := s.Output
			if len(out) > store.MaxOutputBytes {
				out = out[:store.MaxOutputBytes]
				d.log.Warn("stage output cut to the store's limit", "run", a.id, "stage", s.Name, "bytes", len(s.Output))
			}
			if err := d.st.PutOutput(bg, a.id, s.Name, out); err != nil {
				d.log.Error("storing output", "run", a.id, "stage", s.Name, "err", err)
			}
		}
		if report, err = json.Marshal(rep); err != nil {
			d.log.Error("encoding report", "run", a.id, "err", err)
		}
	}
	if !finished { // the run never started: its stream still ends with run.finished
		d.appendFinished(bg, a, status, msg, time.Since(start))
	}
	if _, err := d.st.UpdateRun(bg, a.id, store.RunUpdate{Status: status, Error: msg, Report: report}); err != nil {
		d.log.Error("finishing run", "run", a.id, "err", err)
	}
	if tel != nil {
		tel.Close()
	}
	d.log.Info("run ended", "run", a.id, "name", a.name, "status", status, "duration", time.Since(start))
}

// outcome is a finished run's status and error text.
func outcome(ctx context.Context, rep *voidbox.Report, err error) (store.RunStatus, string) {
	switch {
	case rep == nil && ctx.Err() != nil:
		return store.RunCancelled, context.Cause(ctx).Error()
	case rep == nil:
		return store.RunFailed, err.Error()
	case rep.Status == voidbox.StatusSucceeded:
		return store.RunSucceeded, ""
	case rep.Status == voidbox.StatusCancelled:
		msg := rep.Error
		if c := context.Cause(ctx); c != nil {
			msg = c.Error()
		}
		return store.RunCancelled, msg
	}
	msg := rep.Error
	if msg == "" && err != nil {
		msg = err.Error()
	}
	return store.RunFailed, msg
}

// appendFinished ends the stream of a run the engine never started (it
// failed before, or was cancelled while queued).
func (d *Daemon) appendFinished(ctx context.Context, a *active, status store.RunStatus, msg string, took time.Duration) {
	e := event.Event{Time: time.Now().UTC(), Run: a.name,
		Data: event.RunFinished{Status: string(status), DurationMS: took.Milliseconds(), Error: msg}}
	data, err := json.Marshal(e)
	if err == nil {
		_, err = d.st.AppendEvents(ctx, a.id, []store.Event{{Type: string(e.Type()), Time: e.Time, Data: data}})
	}
	if err != nil {
		d.log.Error("storing run.finished", "run", a.id, "err", err)
	}
}

// cancel stops a run and returns once its VMs are gone and its status is
// stored (or ctx ends). A queued run is cancelled without starting; a
// finished one is left as it is.
func (d *Daemon) cancel(ctx context.Context, id string) error {
	d.mu.Lock()
	if a, ok := d.running[id]; ok {
		a.cancel(errCancelled)
		d.mu.Unlock()
		select {
		case <-a.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i, a := range d.queue {
		if a.id == id {
			d.queue = append(d.queue[:i:i], d.queue[i+1:]...)
			d.mu.Unlock()
			d.cancelQueued(a, errCancelled)
			return nil
		}
	}
	d.mu.Unlock()
	return nil
}

func (d *Daemon) cancelQueued(a *active, cause error) {
	ctx := context.WithoutCancel(d.ctx)
	d.appendFinished(ctx, a, store.RunCancelled, cause.Error(), 0)
	if _, err := d.st.UpdateRun(ctx, a.id, store.RunUpdate{Status: store.RunCancelled, Error: cause.Error()}); err != nil {
		d.log.Error("cancelling queued run", "run", a.id, "err", err)
	}
	close(a.done)
}

// cancelAll cancels every queued and running run.
func (d *Daemon) cancelAll(cause error) {
	d.mu.Lock()
	queued := d.queue
	d.queue = nil
	for _, a := range d.running {
		a.cancel(cause)
	}
	d.mu.Unlock()
	for _, a := range queued {
		d.cancelQueued(a, cause)
	}
}

// waitRuns waits until no run is queued or running, or ctx ends.
func (d *Daemon) waitRuns(ctx context.Context) error {
	for {
		d.mu.Lock()
		var next *active
		for _, a := range d.running {
			next = a
			break
		}
		if next == nil && len(d.queue) > 0 {
			next = d.queue[0]
		}
		d.mu.Unlock()
		if next == nil {
			return nil
		}
		select {
		case <-next.done:
		case <-ctx.Done():
			return fmt.Errorf("waiting for runs: %w", ctx.Err())
		}
	}
}

// counts is how many runs are queued and running.
func (d *Daemon) counts() (queued, running int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue), len(d.running)
}
