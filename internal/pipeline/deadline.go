package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

// errAttemptTimeout is the cause of an attempt's context when its Node.Timeout ran out.
var errAttemptTimeout = errors.New("attempt timed out")

// attemptDeadline is a node's per-attempt timeout that stands still while
// the attempt's VM waits for a host-wide slot (between the runner's
// vm.queued and vm.admitted events): a stage in a fan-out larger than the
// host is bounded by its own work, not by the queue in front of it.
type attemptDeadline struct {
	cancel context.CancelCauseFunc

	mu     sync.Mutex
	timer  *time.Timer   // guarded by mu; nil while paused or once stopped
	left   time.Duration // guarded by mu; what remains while paused
	due    time.Time     // guarded by mu; when the running timer fires
	paused bool          // guarded by mu
	done   bool          // guarded by mu
}

// withAttemptDeadline returns ctx bounded by d (d ≤ 0: unbounded).
func withAttemptDeadline(ctx context.Context, d time.Duration) (context.Context, *attemptDeadline) {
	actx, cancel := context.WithCancelCause(ctx)
	a := &attemptDeadline{cancel: cancel}
	if d > 0 {
		a.due = time.Now().Add(d)
		a.timer = time.AfterFunc(d, func() { cancel(errAttemptTimeout) })
	}
	return actx, a
}

// observe pauses the clock at vm.queued and resumes it at vm.admitted.
func (a *attemptDeadline) observe(d event.Data) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return
	}
	switch d.(type) {
	case event.VMQueued:
		if a.timer != nil && !a.paused && a.timer.Stop() {
			a.paused, a.left, a.timer = true, time.Until(a.due), nil
		}
	case event.VMAdmitted:
		if a.paused {
			a.paused, a.due = false, time.Now().Add(a.left)
			a.timer = time.AfterFunc(a.left, func() { a.cancel(errAttemptTimeout) })
		}
	}
}

// stop ends the deadline and releases the attempt's context.
func (a *attemptDeadline) stop() {
	a.mu.Lock()
	a.done = true
	if a.timer != nil {
		a.timer.Stop()
	}
	a.mu.Unlock()
	a.cancel(context.Canceled)
}

// timedOut reports whether ctx (from withAttemptDeadline) ended by the deadline.
func timedOut(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errAttemptTimeout) }
