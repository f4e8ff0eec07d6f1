//go:build unix

package admission

import "sync"

// waker tells a process's waiters that a file of the directory was
// removed (a slot released, a ticket admitted or given up): one watcher
// per Gate, running while anyone waits, broadcasting by closing a channel.
type waker struct {
	dir string

	mu      sync.Mutex
	subs    int           // guarded by mu
	ch      chan struct{} // guarded by mu; closed and replaced at each removal
	stop    func()        // guarded by mu; stops the running watcher, nil if none
	polling bool          // guarded by mu; no watcher could start: waiters poll
}

func newWaker(dir string) *waker { return &waker{dir: dir, ch: make(chan struct{})} }

// subscription is one waiter's interest, ended by close.
type subscription struct {
	w    *waker
	once sync.Once
}

func (w *waker) subscribe() *subscription {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs++
	if w.subs == 1 {
		stop, err := watch(w.dir, w.broadcast)
		w.stop, w.polling = stop, err != nil
	}
	return &subscription{w: w}
}

// broadcast wakes every current waiter.
func (w *waker) broadcast() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}

// changed is closed at the next removal after this call.
func (s *subscription) changed() <-chan struct{} {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.ch
}

// polling reports that removals are not watched: the waiter must look often.
func (s *subscription) polling() bool {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.polling
}

// close ends the subscription; the last one stops the watcher and waits
// for it.
func (s *subscription) close() {
	s.once.Do(func() {
		w := s.w
		w.mu.Lock()
		w.subs--
		var stop func()
		if w.subs == 0 {
			stop, w.stop = w.stop, nil
		}
		w.mu.Unlock()
		if stop != nil {
			stop()
		}
	})
}
