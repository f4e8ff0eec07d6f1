package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/voidbox/voidbox/internal/event"
)

// runStage runs node i's attempts until one succeeds, the retries run out,
// the error is permanent or ctx ends. It runs on its own goroutine and
// touches no scheduler state: input is a copy made at launch.
func (e *engine) runStage(ctx context.Context, i int, input []byte) stageResult {
	n := e.c.g.Nodes[i]
	rep := StageReport{Name: n.ID, Group: n.Group}
	var err error
	for attempt := 1; ; attempt++ {
		if err = e.acquire(ctx); err != nil {
			break // cancelled while queued for a slot
		}
		if attempt == 1 {
			rep.Started = e.clock.Now()
		}
		rep.Attempts = attempt
		e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: event.StageStarted{}})
		start := e.clock.Now()
		var out Output
		out, err = e.attempt(ctx, n, attempt, input)
		e.release()
		rep.ExitCode, rep.Detail, rep.StderrTail = out.ExitCode, out.Detail, out.StderrTail
		if err == nil {
			rep.Status, rep.Output, rep.OutputBytes = StatusSucceeded, out.Data, len(out.Data)
			e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: event.StageSucceeded{
				DurationMS: e.clock.Now().Sub(start).Milliseconds(), ExitCode: out.ExitCode, OutputBytes: len(out.Data)}})
			break
		}
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
		// Every other way out of the loop is the run's context ending.
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

// attempt makes one RunStage call under the node's timeout.
func (e *engine) attempt(ctx context.Context, n *Node, attempt int, input []byte) (Output, error) {
	actx, deadline := withAttemptDeadline(ctx, n.Timeout)
	defer deadline.stop()
	// Events a runner emits after RunStage returned (a stray goroutine) are
	// dropped: the sink may already be closed by then.
	var done atomic.Bool
	defer done.Store(true)
	emit := func(d event.Data) {
		if done.Load() {
			return
		}
		deadline.observe(d)
		// Runner events are always attributed to the attempt that sent them.
		e.emit(event.Event{Stage: n.ID, Attempt: attempt, Data: d})
	}
	out, err := e.call(actx, n, attempt, input, emit)
	if err == nil && out.ExitCode != nil && *out.ExitCode != 0 {
		err = &ExitError{Code: *out.ExitCode}
	}
	if err != nil && ctx.Err() == nil && timedOut(actx) {
		err = fmt.Errorf("%w after %s", ErrTimeout, n.Timeout)
	}
	return out, err
}

// call invokes the runner, turning a panic into a permanent error so one
// broken stage cannot take down the process and its other VMs.
func (e *engine) call(ctx context.Context, n *Node, attempt int, input []byte, emit func(event.Data)) (out Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = Output{}, Permanent(fmt.Errorf("runner panicked: %v", r))
		}
	}()
	return e.runner.RunStage(ctx, n, attempt, input, emit)
}

func (e *engine) acquire(ctx context.Context) error {
	if e.sem == nil {
		return ctx.Err()
	}
	if err := e.sem.Acquire(ctx, 1); err != nil {
		return err
	}
	// Acquire may succeed on an already-ended context; queued stages must
	// not start after cancellation.
	if err := ctx.Err(); err != nil {
		e.sem.Release(1)
		return err
	}
	return nil
}

func (e *engine) release() {
	if e.sem != nil {
		e.sem.Release(1)
	}
}
