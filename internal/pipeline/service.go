package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

// DefaultReadyTimeout bounds the time a service stage (boot included) has
// to become ready when its Node gives no Timeout.
const DefaultReadyTimeout = 2 * time.Minute

// ServiceRunner is a Runner that can also run service stages (Node.Service).
type ServiceRunner interface {
	Runner
	// RunService runs attempt of the service n. It is RunStage, except that
	// it calls ready (at most once, from any goroutine) with the stage's
	// output when the service is ready, and then keeps the service running
	// until ctx ends — it then stops it, releases what it started (its VM)
	// and returns — or the service ends on its own.
	RunService(ctx context.Context, n *Node, attempt int, input []byte, emit func(event.Data), ready func(Output)) (Output, error)
}

// errRunDone is the cause given to services' context when the run's other
// stages are done; errNotReady when a service's ready timeout passes.
var (
	errRunDone  = errors.New("the run's other stages finished")
	errNotReady = errors.New("not ready")
)

// runService runs service node i: attempts like runStage until one becomes
// ready (each bounded by the ready timeout), then sends a ready result to
// the scheduler and waits for the service to end. ctx is the run's, svcCtx
// the one the scheduler ends to stop services.
func (e *engine) runService(ctx, svcCtx context.Context, i int, input []byte) stageResult {
	n := e.c.g.Nodes[i]
	limit := n.Timeout
	if limit <= 0 {
		limit = DefaultReadyTimeout
	}
	rep := StageReport{Name: n.ID, Group: n.Group, Service: &ServiceReport{}}
	var err error
	for attempt := 1; ; attempt++ {
		if err = e.acquire(ctx); err != nil {
			break
		}
		if attempt == 1 {
			rep.Started = e.clock.Now()
		}
		rep.Attempts = attempt
		e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: event.StageStarted{}})
		var sa serviceRun
		sa, err = e.serviceAttempt(svcCtx, n, attempt, input, limit, i)
		out := sa.out
		rep.ExitCode, rep.Detail, rep.StderrTail = out.ExitCode, out.Detail, out.StderrTail
		if !sa.readyAt.IsZero() {
			rep.Output, rep.OutputBytes = sa.readyOutput, len(sa.readyOutput)
			e.serviceEnded(ctx, svcCtx, n, attempt, &rep, sa.readyAt, out, err)
			if rep.Status == StatusFailed {
				err = fmt.Errorf("%s", rep.Error)
			}
			break
		}
		e.release()
		if ctx.Err() != nil {
			break
		}
		if attempt > n.Retries || IsPermanent(err) {
			rep.Status, rep.Error = StatusFailed, err.Error()
			e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: event.StageFailed{
				Error: rep.Error, ExitCode: out.ExitCode, Attempts: attempt, Permanent: IsPermanent(err), StderrTail: out.StderrTail}})
			break
		}
		delay := backoff(n.Backoff, attempt)
		e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: event.StageRetrying{Error: err.Error(), DelayMS: delay.Milliseconds()}})
		if serr := e.clock.Sleep(ctx, delay); serr != nil {
			break
		}
	}
	if rep.Status == "" {
		rep.Status, rep.Reason = StatusCancelled, "run cancelled"
		if err != nil && !errors.Is(err, context.Canceled) {
			rep.Error = err.Error()
		}
		err = fmt.Errorf("stage %q: %w", n.ID, context.Cause(ctx))
		e.emit(event.Event{Stage: n.ID, Attempt: rep.Attempts, Data: event.StageCancelled{Reason: rep.Reason}})
	}
	rep.Finished = e.clock.Now()
	if !rep.Started.IsZero() {
		rep.Duration = rep.Finished.Sub(rep.Started)
	}
	if rep.Status != StatusFailed && rep.Status != StatusCancelled {
		err = nil
	}
	return stageResult{idx: i, rep: rep, err: err}
}

// serviceRun is what one attempt of a service did.
type serviceRun struct {
	out         Output    // what RunService returned at the end
	readyAt     time.Time // zero if it never became ready
	readyOutput []byte    // the output it was ready with
}

// serviceAttempt makes one RunService call. Until the service is ready the
// attempt is bounded by limit; once ready it gives up its slot, reports
// ready to the scheduler and runs on until svcCtx ends.
func (e *engine) serviceAttempt(svcCtx context.Context, n *Node, attempt int, input []byte, limit time.Duration, idx int) (serviceRun, error) {
	actx, cancel := context.WithCancelCause(svcCtx)
	defer cancel(nil)
	start := e.clock.Now()
	var (
		mu       sync.Mutex
		readyAt  time.Time // guarded by mu
		readyOut []byte    // guarded by mu
	)
	timer := time.AfterFunc(limit, func() {
		mu.Lock()
		defer mu.Unlock()
		if readyAt.IsZero() {
			cancel(errNotReady)
		}
	})
	defer timer.Stop()
	var done atomic.Bool
	defer done.Store(true)
	emit := func(d event.Data) {
		if !done.Load() {
			e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: d})
		}
	}
	ready := func(out Output) {
		mu.Lock()
		defer mu.Unlock()
		if !readyAt.IsZero() || actx.Err() != nil || done.Load() {
			return
		}
		readyAt, readyOut = e.clock.Now(), out.Data
		e.release()
		e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: event.ServiceReady{
			ReadyMS: readyAt.Sub(start).Milliseconds(), OutputBytes: len(out.Data)}})
		e.results <- stageResult{idx: idx, ready: true, rep: StageReport{Output: out.Data}}
	}
	out, err := e.callService(actx, n, attempt, input, emit, ready)
	mu.Lock()
	run := serviceRun{out: out, readyAt: readyAt, readyOutput: readyOut}
	mu.Unlock()
	if run.readyAt.IsZero() {
		if err == nil {
			err = errors.New("the service ended before it was ready")
			if out.ExitCode != nil {
				err = fmt.Errorf("the service exited (exit code %d) before it was ready", *out.ExitCode)
			}
		}
		if svcCtx.Err() == nil && errors.Is(context.Cause(actx), errNotReady) {
			if errors.Is(err, context.Canceled) {
				err = fmt.Errorf("%w after %s: %w", ErrTimeout, limit, errNotReady)
			} else {
				err = fmt.Errorf("%w after %s: %w: %w", ErrTimeout, limit, errNotReady, err)
			}
		}
	}
	return run, err
}

// serviceEnded settles a service that was ready: stopped by the run (its
// work is done: succeeded), cancelled with the run, or ended on its own
// while the run lived (failed).
func (e *engine) serviceEnded(ctx, svcCtx context.Context, n *Node, attempt int, rep *StageReport, readyAt time.Time, out Output, err error) {
	now := e.clock.Now()
	sr := rep.Service
	sr.ReadyMS = readyAt.Sub(rep.Started).Milliseconds()
	sr.UptimeMS = now.Sub(readyAt).Milliseconds()
	switch {
	case ctx.Err() != nil:
		sr.ExitReason = "stopped: run cancelled"
	case svcCtx.Err() != nil:
		sr.ExitReason = "stopped: " + errRunDone.Error()
		rep.Status = StatusSucceeded
	default:
		why := "exited"
		switch {
		case err != nil:
			why += ": " + err.Error()
		case out.ExitCode != nil:
			why += fmt.Sprintf(" with exit code %d", *out.ExitCode)
		}
		sr.ExitReason = why
		rep.Status, rep.Error = StatusFailed, "service "+why+" while the run was still running"
	}
	e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: event.ServiceStopped{UptimeMS: sr.UptimeMS, Reason: sr.ExitReason}})
	switch rep.Status {
	case StatusSucceeded:
		e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: event.StageSucceeded{
			DurationMS: now.Sub(rep.Started).Milliseconds(), ExitCode: out.ExitCode, OutputBytes: rep.OutputBytes}})
	case StatusFailed:
		e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: event.StageFailed{
			Error: rep.Error, ExitCode: out.ExitCode, Attempts: attempt, StderrTail: out.StderrTail}})
	}
}

// callService is call for services.
func (e *engine) callService(ctx context.Context, n *Node, attempt int, input []byte, emit func(event.Data), ready func(Output)) (out Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = Output{}, Permanent(fmt.Errorf("runner panicked: %v", r))
		}
	}()
	return e.svc.RunService(ctx, n, attempt, input, emit, ready)
}
