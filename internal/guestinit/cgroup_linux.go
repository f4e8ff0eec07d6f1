package guestinit

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Each command runs in a cgroup of its own, so the command and every process
// it starts are in it. memory.events counts oom_kill for the processes of
// that group only, whichever OOM killer (global or cgroup) chose them, and
// the kernel raises the event before it sends the SIGKILL: by the time the
// kill is reaped the count shows it. That is how an exit by SIGKILL is told
// apart as "killed: out of memory", and a kill in another command never
// counts for this one.
//
// Costs, measured under TCG: creating a memory cgroup ~7 ms, removing one
// ~5 ms, and moving a process into one waits for an RCU grace period
// (cgroup.procs takes the threadgroup lock for writing): exec round trips
// went from ~13 to ~55 ms. So cgroups are pooled and reused once empty, and
// a command is born in its cgroup (clone3 CLONE_INTO_CGROUP) instead of
// being moved there. A reused cgroup's count is cumulative: what matters is
// whether it grew while this command had the cgroup to itself.
//
// The cgroup also bounds a command in two more ways. The cpu controller is
// on, so the scheduler weighs a command as one entity however many
// processes it runs: a fork bomb of a thousand runnable processes on one
// TCG vCPU gets about the share of one of PID 1's threads, not a thousand
// times it, and the init can still report its timeout and serve the next
// request. (The default weight is kept: a lower one halved a flood's output
// rate, PID 1's pumping threads and Go's spinning stealing the writers'
// time.) And a command's time limit covers every process it started: what
// it leaves running in the background when it exits is killed when that
// limit passes (a command without a time limit may leave servers running
// for later commands).

const cgroupRoot = "/sys/fs/cgroup"

// cgroup is one pooled cgroup.
type cgroup struct {
	dir  string
	fd   int    // O_PATH|O_DIRECTORY, for CLONE_INTO_CGROUP
	base uint64 // oom_kill when handed out
	// gen counts the times the cgroup was handed out; guarded by
	// cgroups.mu. A deadline kill of a command's leftovers applies only
	// while the cgroup is still that command's.
	gen uint64
}

// cgroups hands out empty cgroups and takes them back.
type cgroups struct {
	mu      sync.Mutex // guards every field below and each cgroup's gen
	enabled bool       // the memory controller is on for children
	seq     int        // names cgroups uniquely
	free    []*cgroup  // empty, ready for a command
	busy    []*cgroup  // returned with processes left in them (background children)
}

// newCgroups turns on the memory controller for child cgroups, which makes
// memory.events exist there. A kernel without it (a user-supplied one)
// still runs commands; their OOM kills then read as plain SIGKILLs.
func newCgroups() *cgroups {
	err := os.WriteFile(cgroupRoot+"/cgroup.subtree_control", []byte("+memory"), 0)
	if err != nil {
		logf(4, "no memory cgroup controller, out-of-memory kills will not be named: %v", err)
	}
	cpuErr := os.WriteFile(cgroupRoot+"/cgroup.subtree_control", []byte("+cpu"), 0)
	if cpuErr != nil {
		logf(4, "no cpu cgroup controller, a command with many processes can slow the init: %v", cpuErr)
	}
	return &cgroups{enabled: err == nil}
}

// get returns an empty cgroup for a command, or nil (no controller, or the
// cgroup could not be made: the command then runs without one).
func (c *cgroups) get() *cgroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled {
		return nil
	}
	kept := c.busy[:0]
	for _, cg := range c.busy {
		if populated(cg.dir) {
			kept = append(kept, cg)
		} else {
			c.free = append(c.free, cg)
		}
	}
	c.busy = kept
	var cg *cgroup
	if n := len(c.free); n > 0 {
		cg, c.free = c.free[n-1], c.free[:n-1]
	} else {
		c.seq++
		dir := fmt.Sprintf("%s/cmd-%d", cgroupRoot, c.seq)
		if err := os.Mkdir(dir, 0o755); err != nil {
			logf(4, "creating a command cgroup: %v", err)
			return nil
		}
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			_ = os.Remove(dir)
			logf(4, "opening a command cgroup: %v", err)
			return nil
		}
		cg = &cgroup{dir: dir, fd: fd}
	}
	cg.base = oomKills(cg.dir)
	cg.gen++
	return cg
}

// put takes a command's cgroup back once the command ended. Processes it
// left behind keep the cgroup busy; with a deadline (the command's time
// limit; zero: none) they are killed when it passes.
func (c *cgroups) put(cg *cgroup, deadline time.Time) {
	if cg == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !populated(cg.dir) {
		c.free = append(c.free, cg)
		return
	}
	c.busy = append(c.busy, cg)
	if deadline.IsZero() {
		return
	}
	gen := cg.gen
	// A timer, not a goroutine: nothing waits for it, and a kill after the
	// cgroup emptied and went to another command is skipped by gen.
	time.AfterFunc(time.Until(deadline), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if cg.gen == gen {
			logf(5, "killing what a command left running past its time limit in %s", cg.dir)
			cg.killAll()
		}
	})
}

// oomKilled reports whether the OOM killer killed a process of the cgroup
// since it was handed out.
func (cg *cgroup) oomKilled() bool { return cg != nil && oomKills(cg.dir) > cg.base }

// oomKills reads the oom_kill count of memory.events (0 if unreadable).
func oomKills(dir string) uint64 {
	v, _ := eventValue(dir+"/memory.events", "oom_kill")
	return v
}

// populated reports whether processes are in the cgroup; an unreadable one
// counts as populated, so it is never handed out.
func populated(dir string) bool {
	v, ok := eventValue(dir+"/cgroup.events", "populated")
	return !ok || v != 0
}

// eventValue reads one "key value" line of a cgroup events file.
func eventValue(path, key string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(key+" ")); ok {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// killAll SIGKILLs every process of the cgroup (cgroup.kill, Linux 5.14+):
// a terminal session's jobs live in process groups of their own, which a
// kill of the leader's group would miss.
func (cg *cgroup) killAll() {
	if cg != nil {
		_ = os.WriteFile(cg.dir+"/cgroup.kill", []byte("1"), 0)
	}
}
