package guestinit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

// The exec guard: with an allowlist, the kernel checks every program the
// sandbox user's processes execute, not only the command's first.
//
// Every command of the sandbox user is forked from one thread of PID 1
// that carries a seccomp filter (execFilter), inherited by the command and
// everything it starts, across forks, execs and uid changes. The filter
// hands execve, execveat and busybox's applet naming to the guard's helper
// (execguard_helper_linux.go), which applies execRule and answers. PID 1's
// other threads, and so root's provisioning commands, carry no filter.
//
// The sandbox user also loses two ways around the check: user namespaces
// (a mount namespace could show other files under the trusted paths) and
// ptrace of its own processes (a tracer can rewrite an exec's arguments
// after the check; the helper would catch the result, but then only by
// killing).

// guardSysctls are set before the first guarded command.
var guardSysctls = []struct {
	path, value string
	optional    bool
}{
	{"/proc/sys/user/max_user_namespaces", "0", false},
	{"/proc/sys/kernel/yama/ptrace_scope", "2", true}, // admin-only attach; PID 1 keeps CAP_SYS_PTRACE
}

// execGuard is PID 1's side of the guard.
type execGuard struct {
	rule   *execRule
	thread *filteredThread
	report int // the helper's report pipe, non-blocking

	mu      sync.Mutex               // guards denials and reading report
	denials map[string][]guardReport // by cgroup ("/cmd-3"), until the command ends
	partial []byte                   // a report line not read whole yet
}

// startExecGuard sets the guard up for allowed (with trusted, the extra
// trusted directories), or says why it cannot be: without it an allowlist
// would hold for first execs only, so the handshake fails instead (closed,
// not open). root is the view commands run in ("" for the initramfs): the
// helper runs chrooted there, so paths resolve as they do for the callers.
func startExecGuard(allowed, trusted []string, root string) (_ *execGuard, err error) {
	avail, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	if err != nil {
		return nil, fmt.Errorf("allowed_commands needs seccomp user notification in the guest kernel: %w", err)
	}
	if err := checkNotifySupport(string(avail)); err != nil {
		return nil, fmt.Errorf("allowed_commands needs seccomp user notification in the guest kernel: %w", err)
	}
	for _, s := range guardSysctls {
		if err := os.WriteFile(s.path, []byte(s.value), 0); err != nil && !(s.optional && errors.Is(err, os.ErrNotExist)) {
			return nil, fmt.Errorf("allowed_commands: setting %s: %w", s.path, err)
		}
	}
	g := &execGuard{rule: newExecRule(allowed, trusted), denials: map[string][]guardReport{}}
	var listener int
	if g.thread, listener, err = newFilteredThread(); err != nil {
		return nil, fmt.Errorf("allowed_commands: %w", err)
	}
	defer unix.Close(listener) // the helper holds it from here on
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("allowed_commands: report pipe: %w", err)
	}
	defer unix.Close(pipe[1])
	g.report = pipe[0]
	list, _ := json.Marshal(allowed)
	dirs, _ := json.Marshal(trusted)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	fd := devnull.Fd()
	_, err = syscall.ForkExec("/proc/self/exe", []string{guardArgv0}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{guardAllowEnv + "=" + string(list), guardTrustedEnv + "=" + string(dirs)},
		Files: []uintptr{fd, fd, fd, uintptr(listener), uintptr(pipe[1])},
		// /proc/self/exe is a magic link: it reaches this binary from
		// inside an image root too.
		Sys: &syscall.SysProcAttr{Setsid: true, Chroot: root},
	})
	if err != nil {
		unix.Close(g.report)
		return nil, fmt.Errorf("allowed_commands: starting the exec guard: %w", err)
	}
	if err := g.awaitReady(10 * time.Second); err != nil {
		unix.Close(g.report)
		return nil, fmt.Errorf("allowed_commands: the exec guard did not start: %w", err)
	}
	if err := unix.SetNonblock(g.report, true); err != nil {
		return nil, err
	}
	go g.readReports()
	return g, nil
}

// awaitReady reads the helper's first line.
func (g *execGuard) awaitReady(timeout time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(g.report), Events: unix.POLLIN}}
	line := []byte{}
	deadline := time.Now().Add(timeout)
	for !bytes.HasSuffix(line, []byte("\n")) {
		left := time.Until(deadline)
		if left <= 0 {
			return errors.New("no answer")
		}
		if n, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && err != unix.EINTR {
			return err
		} else if n == 0 {
			continue
		}
		var b [64]byte
		n, err := unix.Read(g.report, b[:])
		if n <= 0 {
			return fmt.Errorf("it exited (%v)", err)
		}
		line = append(line, b[:n]...)
	}
	if string(line) != guardReadyLine+"\n" {
		return fmt.Errorf("it said %q", line)
	}
	return nil
}

// readReports files the helper's reports as they come. Whoever takes a
// command's denials also drains the pipe (under mu), so none written
// before the command ended is missed.
func (g *execGuard) readReports() {
	fds := []unix.PollFd{{Fd: int32(g.report), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
			return
		}
		g.mu.Lock()
		eof := g.drain()
		g.mu.Unlock()
		if eof {
			logf(2, "the exec guard exited: guarded execs fail from now on")
			return
		}
		if fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 && fds[0].Revents&unix.POLLIN == 0 {
			return
		}
	}
}

// drain reads what the pipe holds. Precondition: g.mu is held.
func (g *execGuard) drain() (eof bool) {
	var b [4096]byte
	for {
		n, err := unix.Read(g.report, b[:])
		if n > 0 {
			g.partial = append(g.partial, b[:n]...)
			for {
				i := bytes.IndexByte(g.partial, '\n')
				if i < 0 {
					break
				}
				var r guardReport
				if json.Unmarshal(g.partial[:i], &r) == nil {
					g.file(r)
				}
				g.partial = g.partial[i+1:]
			}
			continue
		}
		return n == 0 && err == nil
	}
}

// maxPendingDenials bounds what is kept for one cgroup between takes.
const maxPendingDenials = 256

// file keeps a denial for its command. Precondition: g.mu is held.
func (g *execGuard) file(r guardReport) {
	if list := g.denials[r.Cgroup]; len(list) < maxPendingDenials {
		g.denials[r.Cgroup] = append(list, r)
	}
}

// take returns (and forgets) the denials of the processes of cgroup, one
// per process and program, at most wire.MaxDenials, and their count.
func (g *execGuard) take(cgroup string) ([]wire.ExecDenial, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.drain()
	list := g.denials[cgroup]
	delete(g.denials, cgroup)
	var out []wire.ExecDenial
	seen := map[string]bool{}
	count := 0
	for _, r := range list {
		key := fmt.Sprintf("%d\x00%s", r.PID, r.Program)
		if seen[key] {
			continue
		}
		seen[key] = true
		count++
		if len(out) < wire.MaxDenials {
			out = append(out, wire.ExecDenial{PID: r.PID, Program: r.Program, Path: r.Path, Reason: r.Reason, Killed: r.Killed})
		}
	}
	return out, count
}

// filteredThread is the OS thread of PID 1 that carries the exec filter;
// the sandbox user's commands are forked from it (and only from it) so
// they inherit the filter. The Go runtime starts no thread from a locked
// one (it asks its template thread), so the filter spreads to no other
// thread of PID 1.
type filteredThread struct {
	calls chan func()
}

func newFilteredThread() (*filteredThread, int, error) {
	t := &filteredThread{calls: make(chan func())}
	type result struct {
		fd  int
		err error
	}
	ready := make(chan result, 1)
	go func() {
		// Never unlocked: the thread keeps the filter for PID 1's life. If
		// installing fails, returning while locked ends the thread.
		runtime.LockOSThread()
		fd, err := installExecFilter()
		ready <- result{fd, err}
		if err != nil {
			return
		}
		for f := range t.calls {
			f()
		}
	}()
	r := <-ready
	if r.err != nil {
		return nil, -1, r.err
	}
	return t, r.fd, nil
}

// do runs f on the filtered thread and waits for it.
func (t *filteredThread) do(f func()) {
	done := make(chan struct{})
	t.calls <- func() { f(); close(done) }
	<-done
}
