package pipeline

import (
	"context"
	"time"
)

// Clock is the engine's view of time: timestamps for events and reports, and
// the wait between retries. Tests inject one to observe backoff without
// sleeping; per-attempt timeouts always use the real clock (attemptDeadline).
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends, returning ctx's error in the
	// latter case.
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
