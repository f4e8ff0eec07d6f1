//go:build unix

package admission

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Gate admits VMs against a Budget. Gates of every process that use the
// same directory share one queue; a Gate is safe for concurrent use.
type Gate struct {
	dir    string
	budget Budget
	// hostAvail reports the host's MemAvailable and MemTotal in MiB
	// (avail < 0: unknown). Tests replace it.
	hostAvail func() (avail, total int64)
	// recheck is how often a waiter looks again without a wake-up.
	recheck time.Duration
	wake    *waker
}

// Request is one VM asking to start.
type Request struct {
	Name      string // for people reading the directory
	MemoryMiB int64  // its charge (Charge of its guest RAM)
}

// New returns a gate over dir (created 0700 if needed) with budget b.
func New(dir string, b Budget) (*Gate, error) {
	if b.BootSlots < 1 || b.MemoryMiB < 1 {
		return nil, fmt.Errorf("admission: budget %+v: need at least one boot slot and 1 MiB", b)
	}
	if err := privateDir(dir); err != nil {
		return nil, fmt.Errorf("admission: %w", err)
	}
	return &Gate{dir: dir, budget: b, hostAvail: hostAvail, recheck: time.Second, wake: newWaker(dir)}, nil
}

// DefaultDir is the admission directory every voidbox process of this user
// shares: $XDG_RUNTIME_DIR/voidbox/admission, else
// $TMPDIR/voidbox-<uid>/admission (the parents of VMs' runtime dirs).
func DefaultDir() string {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		return filepath.Join(x, "voidbox", "admission")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("voidbox-%d", os.Getuid()), "admission")
}

// Budget is the gate's budget.
func (g *Gate) Budget() Budget { return g.budget }

// Dir is the shared directory.
func (g *Gate) Dir() string { return g.dir }

// Acquire waits until r may start and returns its slot: a boot slot (give
// it back with Slot.Booted once the guest answered) and r's memory (until
// Slot.Release). A request larger than the whole memory budget fails at
// once with a *TooLargeError. While it waits, onWait (if set) is called
// with the queue's state: once when the wait begins, then when the state
// changes, at most once a second. When ctx ends first, Acquire removes the
// request's ticket and returns ctx's cause.
func (g *Gate) Acquire(ctx context.Context, r Request, onWait func(Status)) (*Slot, error) {
	if r.MemoryMiB < 1 {
		return nil, fmt.Errorf("admission: request %q without memory", r.Name)
	}
	if r.MemoryMiB > g.budget.MemoryMiB {
		return nil, &TooLargeError{ChargeMiB: r.MemoryMiB, BudgetMiB: g.budget.MemoryMiB}
	}
	start := time.Now()
	// Watch before the ticket exists, so no removal after it is missed.
	sub := g.wake.subscribe()
	defer sub.close()
	t, err := g.enqueue(ctx, r)
	if err != nil {
		return nil, err
	}
	var (
		last      Status
		announced bool
		reported  time.Time
	)
	for {
		changed := sub.changed()
		slot, st, err := g.try(ctx, t)
		if err != nil {
			t.abandon()
			return nil, err
		}
		if slot != nil {
			slot.waited = time.Since(start)
			return slot, nil
		}
		if onWait != nil && (!announced || st != last && time.Since(reported) >= time.Second) {
			onWait(st)
			announced, last, reported = true, st, time.Now()
		}
		recheck := g.recheck
		if sub.polling() {
			recheck = min(recheck, 100*time.Millisecond)
		}
		timer := time.NewTimer(recheck)
		select {
		case <-ctx.Done():
			timer.Stop()
			t.abandon()
			return nil, context.Cause(ctx)
		case <-changed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// ticket is a waiting request's file, locked while it waits.
type ticket struct {
	e    entry
	path string
	f    *os.File
}

// abandon gives up the ticket (cancelled or failed).
func (t *ticket) abandon() {
	os.Remove(t.path)
	t.f.Close()
}

// enqueue creates r's ticket behind every existing one.
func (g *Gate) enqueue(ctx context.Context, r Request) (*ticket, error) {
	unlock, err := lockState(ctx, g.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ents, err := list(g.dir)
	if err != nil {
		return nil, err
	}
	var seq uint64
	for _, e := range ents {
		seq = max(seq, e.seq)
	}
	e := entry{kind: kindTicket, seq: seq + 1, mem: r.MemoryMiB}
	f, err := createLocked(g.dir, e.fileName(), holder(r.Name))
	if err != nil {
		return nil, fmt.Errorf("admission: queueing: %w", err)
	}
	return &ticket{e: e, path: filepath.Join(g.dir, e.fileName()), f: f}, nil
}

// try admits t if it is the oldest live ticket and the budget has room.
// Otherwise it returns t's view of the queue.
func (g *Gate) try(ctx context.Context, t *ticket) (*Slot, Status, error) {
	st := Status{BootSlots: g.budget.BootSlots, MemoryBudgetMiB: g.budget.MemoryMiB, MemoryMiB: t.e.mem}
	ents, err := list(g.dir)
	if err != nil {
		return nil, st, err
	}
	// Without the lock: drop stale tickets ahead, oldest first, and stop at
	// the first live one. Files with final names are only created locked,
	// so removing an unlocked one is always right.
	var ahead []entry
	for _, e := range ents {
		if e.kind == kindTicket && e.seq < t.e.seq {
			ahead = append(ahead, e)
		}
	}
	for i, e := range ahead {
		if removeIfStale(g.dir, e) {
			continue
		}
		st.Ahead = len(ahead) - i
		st.Booting, st.MemoryInUseMiB = usage(ents)
		st.Reason = WaitQueue
		return nil, st, nil
	}
	// t is the head: decide under the lock, from a fresh listing.
	unlock, err := lockState(ctx, g.dir)
	if err != nil {
		return nil, st, err
	}
	defer unlock()
	if ents, err = list(g.dir); err != nil {
		return nil, st, err
	}
	var live []entry
	for _, e := range ents {
		if e.kind != kindTicket && !removeIfStale(g.dir, e) {
			live = append(live, e)
		}
	}
	st.Booting, st.MemoryInUseMiB = usage(live)
	switch avail, total := g.hostAvail(); {
	case st.Booting >= g.budget.BootSlots:
		st.Reason = WaitBoot
	case st.MemoryInUseMiB+t.e.mem > g.budget.MemoryMiB:
		st.Reason = WaitMemory
	case avail >= 0 && avail-t.e.mem < total/16:
		// Others on the host (or our own VMs' touched memory) left too
		// little: starting now could meet the OOM killer.
		st.Reason, st.HostAvailableMiB = WaitHostMemory, avail
	default:
		s, err := g.admit(t)
		return s, st, err
	}
	return nil, st, nil
}

// admit turns t into a slot. Precondition: the state lock is held.
func (g *Gate) admit(t *ticket) (*Slot, error) {
	name, _ := os.ReadFile(t.path)
	b := entry{kind: kindBoot, seq: t.e.seq}
	bf, err := createLocked(g.dir, b.fileName(), name)
	if err != nil {
		return nil, fmt.Errorf("admission: taking a boot slot: %w", err)
	}
	m := entry{kind: kindMemory, seq: t.e.seq, mem: t.e.mem}
	mf, err := createLocked(g.dir, m.fileName(), name)
	if err != nil {
		os.Remove(filepath.Join(g.dir, b.fileName()))
		bf.Close()
		return nil, fmt.Errorf("admission: reserving memory: %w", err)
	}
	t.abandon()
	return &Slot{
		boot: held{filepath.Join(g.dir, b.fileName()), bf},
		mem:  held{filepath.Join(g.dir, m.fileName()), mf},
	}, nil
}

// usage counts boot slots and sums memory of ents (not checked for staleness).
func usage(ents []entry) (booting int, memMiB int64) {
	for _, e := range ents {
		switch e.kind {
		case kindBoot:
			booting++
		case kindMemory:
			memMiB += e.mem
		}
	}
	return booting, memMiB
}

// Slot is an admitted VM's hold on the budget. Its methods are idempotent,
// safe for concurrent use and do nothing on a nil Slot.
type Slot struct {
	mu     sync.Mutex
	boot   held // guarded by mu
	mem    held // guarded by mu
	waited time.Duration
}

// held is a locked file with its final path (os.File.Name is the
// temporary name it was created under).
type held struct {
	path string
	f    *os.File
}

func (h *held) release() {
	if h.f == nil {
		return
	}
	os.Remove(h.path)
	h.f.Close()
	h.f = nil
}

// Waited is how long Acquire waited for the slot (0 for a nil Slot).
func (s *Slot) Waited() time.Duration {
	if s == nil {
		return 0
	}
	return s.waited
}

// Booted gives the boot slot back; the memory stays reserved.
func (s *Slot) Booted() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boot.release()
}

// Release gives everything back.
func (s *Slot) Release() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boot.release()
	s.mem.release()
}

// Usage is the host's admission state, for voidbox doctor.
type Usage struct {
	Waiting, Booting, Running int
	MemoryInUseMiB            int64
}

// Usage counts the live tickets and slots, removing stale ones.
func (g *Gate) Usage() (Usage, error) {
	ents, err := list(g.dir)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for _, e := range ents {
		if removeIfStale(g.dir, e) {
			continue
		}
		switch e.kind {
		case kindTicket:
			u.Waiting++
		case kindBoot:
			u.Booting++
		case kindMemory:
			u.Running++
			u.MemoryInUseMiB += e.mem
		}
	}
	return u, nil
}

// holder is what a file says about its owner, for a person reading the dir.
func holder(name string) []byte {
	return []byte("pid " + strconv.Itoa(os.Getpid()) + " " + name + "\n")
}

// privateDir creates dir 0700 and refuses one owned by another user.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not us", dir, st.Uid)
	}
	return nil
}

// hostAvail reads MemAvailable and MemTotal (-1 when unreadable).
func hostAvail() (avail, total int64) {
	total, avail, err := readMeminfo()
	if err != nil {
		return -1, 0
	}
	return avail, total
}
