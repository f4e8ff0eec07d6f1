package daemon

import (
	"context"
	"sync"
)

// slots caps the VMs of the whole daemon: every run's VM and every
// interactive sandbox holds one from before its boot until its QEMU has
// exited. It implements voidbox.VMSlots.
type slots struct {
	max int
	mu  sync.Mutex
	// used counts slots handed out; guarded by mu.
	used int
	// free is closed and replaced when a slot is released, waking every
	// waiter to try again; guarded by mu.
	free chan struct{}
}

func newSlots(max int) *slots { return &slots{max: max, free: make(chan struct{})} }

// Acquire waits for a slot or ctx's end.
func (s *slots) Acquire(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.used < s.max {
			s.used++
			s.mu.Unlock()
			return nil
		}
		free := s.free
		s.mu.Unlock()
		select {
		case <-free:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// TryAcquire takes a slot if one is free now.
func (s *slots) TryAcquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used < s.max {
		s.used++
		return true
	}
	return false
}

// Release gives a slot back.
func (s *slots) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used == 0 {
		panic("daemon: slot released twice")
	}
	s.used--
	close(s.free)
	s.free = make(chan struct{})
}

// InUse is how many slots are held: the VMs booting or running.
func (s *slots) InUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}
