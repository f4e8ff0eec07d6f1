package store

import (
	"context"
	"sync"
)

// notifier wakes the waiters of a run when something happens to it (an
// append, a status change, a delete). It is the in-process half of
// WaitEvents; the Valkey store feeds it from pub/sub as well, so appends by
// another process wake this one's waiters too.
type notifier struct {
	mu sync.Mutex
	// chans holds, per run, a channel closed at the next notify; guarded by mu.
	chans map[string]chan struct{}
}

// channel returns the channel the next notify of run closes. Take it before
// checking the state, so a change between the check and the wait is seen.
func (n *notifier) channel(run string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.chans == nil {
		n.chans = make(map[string]chan struct{})
	}
	ch, ok := n.chans[run]
	if !ok {
		ch = make(chan struct{})
		n.chans[run] = ch
	}
	return ch
}

func (n *notifier) notify(run string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ch, ok := n.chans[run]; ok {
		close(ch)
		delete(n.chans, run)
	}
}

// notifyAll wakes every waiter, for when notifications may have been lost.
func (n *notifier) notifyAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for run, ch := range n.chans {
		close(ch)
		delete(n.chans, run)
	}
}

// tailFunc reports a run's newest event id and whether it is terminal.
type tailFunc func(ctx context.Context, run string) (last uint64, terminal bool, err error)

// wait is WaitEvents for every implementation: check, and if nothing is new,
// sleep until the run is notified.
func (n *notifier) wait(ctx context.Context, run string, after uint64, tail tailFunc) error {
	for {
		ch := n.channel(run)
		last, terminal, err := tail(ctx, run)
		if err != nil {
			return err
		}
		if last > after || terminal {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
