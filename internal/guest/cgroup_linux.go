package guest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// Each command runs in its own cgroup, entered while it is stopped at its
// execve (before any of its instructions ran), so the command and every
// process it starts are in it. Its memory.events counts oom_kill for the
// processes of this group only, whichever OOM killer (global or cgroup)
// chose them; the kernel raises the event before sending SIGKILL, so it is
// visible by the time the kill is reaped. That is how an exit by SIGKILL is
// told apart as "killed: out of memory", and a kill in another command never
// counts for this one.

const cgroupRoot = "/sys/fs/cgroup"

// enableMemoryController makes memory.events exist in child cgroups. A
// kernel without the memory controller (a user-supplied one) still runs
// commands; their OOM kills are then reported as plain SIGKILLs.
func enableMemoryController() {
	if err := os.WriteFile(cgroupRoot+"/cgroup.subtree_control", []byte("+memory"), 0); err != nil {
		logf(4, "no memory cgroup controller, out-of-memory kills will not be named: %v", err)
	}
}

// cgroups creates and removes the commands' cgroups. A cgroup still holding
// processes (a command's background child) cannot be removed when its
// command ends; it is retried when the next command starts.
type cgroups struct {
	mu    sync.Mutex // guards seq and stale
	seq   int        // names cgroups uniquely (a pid may be reused while a stale one lives)
	stale []string   // cgroups whose removal failed
}

// enter creates the cgroup of the stopped child pid and moves it there.
// Precondition: pid is stopped (ptrace) and has not run an instruction.
func (c *cgroups) enter(pid int) (string, error) {
	c.mu.Lock()
	c.sweepLocked()
	c.seq++
	dir := fmt.Sprintf("%s/cmd-%d", cgroupRoot, c.seq)
	c.mu.Unlock()
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(dir+"/cgroup.procs", []byte(strconv.Itoa(pid)), 0); err != nil {
		_ = os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// oomKilled reports whether the OOM killer killed a process of the cgroup.
func oomKilled(dir string) bool {
	b, err := os.ReadFile(dir + "/memory.events")
	if err != nil {
		return false
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("oom_kill ")); ok {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return err == nil && n > 0
		}
	}
	return false
}

// release removes the cgroup, or keeps it for a later try while processes
// the command left behind are still in it.
func (c *cgroups) release(dir string) {
	if dir == "" {
		return
	}
	if os.Remove(dir) != nil {
		c.mu.Lock()
		c.stale = append(c.stale, dir)
		c.mu.Unlock()
	}
}

// sweepLocked retries the stale cgroups. Precondition: c.mu is held.
func (c *cgroups) sweepLocked() {
	kept := c.stale[:0]
	for _, d := range c.stale {
		if os.Remove(d) != nil {
			kept = append(kept, d)
		}
	}
	c.stale = kept
}
