package guestinit

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

// spawnSpec describes a command to start.
type spawnSpec struct {
	Path   string
	Argv   []string
	Env    []string
	Dir    string
	Limits wire.Limits
	Root   bool
	// Chroot is the view's root the command runs in ("" for the
	// initramfs); Path and Dir are inside it.
	Chroot string
	// Guarded: under the exec guard (the sandbox user's commands when an
	// allowlist is set), forked from the filtered thread.
	Guarded bool
	// Want, when set, is what must run after the first exec (the guard's
	// verdict on it, made before the fork): checked at the exec stop.
	Want *fileID
}

type exitStatus struct {
	code, signal int
	maxRSS       int64
}

// reaper reaps orphans. As PID 1 the init inherits every process whose
// parent died; they must be reaped or they stay zombies. Commands the init
// started are not the reaper's: each has an owner goroutine blocked in
// wait4 on its pid (faster than routing SIGCHLD through the runtime).
type reaper struct {
	mu      sync.Mutex       // held by the reaper's waits and by a spawn from fork to registration
	tracked map[int]struct{} // pids with an owner; guarded by mu
}

func startReaper() *reaper {
	r := &reaper{tracked: map[int]struct{}{}}
	sig := make(chan os.Signal, 64)
	signal.Notify(sig, unix.SIGCHLD)
	go func() {
		for range sig {
			r.reapOrphans()
		}
	}()
	return r
}

// reapOrphans reaps exited children that have no owner. It peeks with
// WNOWAIT and stops at the first owned one: its owner reaps it, and the
// next SIGCHLD brings the reaper back for any orphan queued behind it.
func (r *reaper) reapOrphans() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
			return
		}
		pid := siginfoPID(&info)
		if pid <= 0 {
			return
		}
		if _, owned := r.tracked[pid]; owned {
			return
		}
		var ws unix.WaitStatus
		if p, _ := unix.Wait4(pid, &ws, unix.WNOHANG, nil); p <= 0 {
			return
		}
	}
}

// wait blocks until the owned child pid exits and reaps it.
func (r *reaper) wait(pid int) exitStatus {
	var ws unix.WaitStatus
	var ru unix.Rusage
	for {
		_, err := unix.Wait4(pid, &ws, 0, &ru)
		if err != unix.EINTR {
			break
		}
	}
	r.mu.Lock()
	delete(r.tracked, pid)
	r.mu.Unlock()
	st := exitStatus{code: ws.ExitStatus(), maxRSS: ru.Maxrss}
	if ws.Signaled() {
		st.signal = int(ws.Signal())
		st.code = 128 + st.signal
	}
	return st
}

type spawner struct {
	reaper  *reaper
	cgroups *cgroups
	guard   *execGuard // set by the handshake when an allowlist applies; nil otherwise
}

// process is a running command.
type process struct {
	pid            int
	cgroup         *cgroup // the command's own; nil if it could not have one
	stdout, stderr *os.File
	done           chan exitStatus

	stdinMu sync.Mutex // guards stdin
	stdin   *os.File   // nil when closed or not requested
}

// start runs spec in a new process group as the sandbox user (unless Root).
//
// The rlimits must bind from the command's first instruction, but Go's
// ForkExec cannot set rlimits in the child. So the child is started traced:
// it stops right after execve, before running any of the new program, while
// we apply the limits with prlimit and then detach. (A re-exec trampoline
// would do the same but costs a Go runtime start, ~15 ms under TCG.)
func (s *spawner) start(spec spawnSpec, wantStdin bool) (*process, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	var inR, inW *os.File
	if wantStdin {
		inR, inW, err = os.Pipe()
	} else {
		inR, err = os.Open(os.DevNull)
	}
	if err != nil {
		for _, f := range []*os.File{outR, outW, errR, errW} {
			f.Close()
		}
		return nil, err
	}
	sys, cg := s.sysAttr(spec, &syscall.SysProcAttr{Setpgid: true, Ptrace: true})
	attr := &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: []uintptr{inR.Fd(), outW.Fd(), errW.Fd()},
		Sys:   sys,
	}
	done := make(chan exitStatus, 1)
	pid, err := s.fork(spec, attr, done)
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		s.cgroups.put(cg, time.Time{}) // any child is killed; put keeps the cgroup aside until it is gone
		outR.Close()
		errR.Close()
		if inW != nil {
			inW.Close()
		}
		return nil, err
	}
	return &process{pid: pid, cgroup: cg, stdout: outR, stderr: errR, done: done, stdin: inW}, nil
}

// sysAttr completes a command's process attributes: its own cgroup and,
// unless it runs as root, the sandbox user.
func (s *spawner) sysAttr(spec spawnSpec, sys *syscall.SysProcAttr) (*syscall.SysProcAttr, *cgroup) {
	// Born in its cgroup (clone3 CLONE_INTO_CGROUP): moving it there
	// afterwards would wait for an RCU grace period on every exec.
	cg := s.cgroups.get()
	if cg != nil {
		sys.UseCgroupFD, sys.CgroupFD = true, cg.fd
	}
	if !spec.Root {
		sys.Credential = &syscall.Credential{Uid: SandboxUID, Gid: SandboxGID, Groups: []uint32{SandboxGID}}
	}
	sys.Chroot = spec.Chroot
	return sys, cg
}

// startOnTTY runs spec with tty as its stdin, stdout and stderr, leading a
// new session whose controlling terminal is tty — the terminal's line
// discipline then turns Ctrl-C, Ctrl-Z and Ctrl-\ into signals for the
// foreground job. Traced at exec like start, for the rlimits.
func (s *spawner) startOnTTY(spec spawnSpec, tty *os.File) (*process, error) {
	sys, cg := s.sysAttr(spec, &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Ptrace: true})
	fd := tty.Fd()
	attr := &syscall.ProcAttr{Dir: spec.Dir, Env: spec.Env, Files: []uintptr{fd, fd, fd}, Sys: sys}
	done := make(chan exitStatus, 1)
	pid, err := s.fork(spec, attr, done)
	if err != nil {
		s.cgroups.put(cg, time.Time{})
		return nil, err
	}
	return &process{pid: pid, cgroup: cg, done: done}, nil
}

// fork starts a command: from the exec guard's filtered thread when the
// command is guarded, so that it and everything it starts inherit the
// filter, else from any thread.
func (s *spawner) fork(spec spawnSpec, attr *syscall.ProcAttr, done chan exitStatus) (pid int, err error) {
	if spec.Guarded && s.guard != nil {
		s.guard.thread.do(func() { pid, err = s.forkTraced(spec, attr, done) })
		return pid, err
	}
	return s.forkTraced(spec, attr, done)
}

// forkTraced starts the child stopped at its exec, applies the limits and
// lets it run. Ptrace requests must come from the tracing thread, hence the
// locked OS thread; the reaper's lock keeps it from consuming the stop.
func (s *spawner) forkTraced(spec spawnSpec, attr *syscall.ProcAttr, done chan exitStatus) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s.reaper.mu.Lock()
	defer s.reaper.mu.Unlock()
	pid, err := syscall.ForkExec(spec.Path, spec.Argv, attr)
	if err != nil {
		return 0, execError(spec.Argv[0], err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		if err == nil && (ws.Exited() || ws.Signaled()) {
			return 0, fmt.Errorf("starting %s: it exited before running", spec.Argv[0])
		}
		// The child is gone before it ran: report it as such.
		_ = unix.Kill(pid, unix.SIGKILL)
		return 0, fmt.Errorf("starting %s: child did not stop at exec (%v)", spec.Argv[0], err)
	}
	err = checkFirstExec(pid, spec.Want)
	if err == nil {
		err = applyLimits(pid, spec.Limits)
	}
	if err == nil {
		// Undo PID 1's OOM immunity, inherited through fork.
		err = os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte("0"), 0)
	}
	if err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		_ = unix.PtraceDetach(pid)
		s.own(pid, done) // reaps the killed child
		if errors.Is(err, wire.ErrNotAllowed) {
			return 0, &startError{code: 126, msg: notAllowed(spec.Argv[0], err)}
		}
		return 0, fmt.Errorf("starting %s: setting limits: %w", spec.Argv[0], err)
	}
	if err := unix.PtraceDetach(pid); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		s.own(pid, done)
		return 0, fmt.Errorf("starting %s: detaching: %w", spec.Argv[0], err)
	}
	s.own(pid, done)
	return pid, nil
}

// checkFirstExec checks that the stopped child runs want, the program the
// guard allowed before the fork (nil: nothing to check).
func checkFirstExec(pid int, want *fileID) error {
	if want == nil {
		return nil
	}
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return err
	}
	if idOf(fi) != *want {
		return refuse("the program changed between the check and the exec")
	}
	return nil
}

// own registers pid as tracked and starts its owner, which delivers the exit
// status on done. Precondition: s.reaper.mu is held.
func (s *spawner) own(pid int, done chan exitStatus) {
	s.reaper.tracked[pid] = struct{}{}
	go func() { done <- s.reaper.wait(pid) }()
}

func execError(name string, err error) error {
	switch err {
	case syscall.ENOENT:
		return &startError{code: 127, msg: name + ": no such file or directory"}
	case syscall.EACCES, syscall.EPERM:
		return &startError{code: 126, msg: name + ": permission denied"}
	case syscall.ENOEXEC:
		return &startError{code: 126, msg: name + ": cannot execute binary file: exec format error"}
	}
	return &startError{code: 126, msg: fmt.Sprintf("%s: %v", name, err)}
}

// startError is a command that could not start, with a shell-like exit code.
type startError struct {
	code int
	msg  string
}

func (e *startError) Error() string { return e.msg }

func (p *process) writeStdin(b []byte) {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdin != nil {
		if _, err := p.stdin.Write(b); err != nil {
			p.stdin.Close()
			p.stdin = nil
		}
	}
}

func (p *process) closeStdin() {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
}

// killGroup signals the command's whole process group.
func (p *process) killGroup(sig syscall.Signal) {
	_ = unix.Kill(-p.pid, sig)
}

// applyLimits sets the rlimits of a stopped child.
func applyLimits(pid int, l wire.Limits) error {
	for _, x := range []struct {
		res int
		v   uint64
	}{
		{unix.RLIMIT_NPROC, l.Processes},
		{unix.RLIMIT_NOFILE, l.OpenFiles},
		{unix.RLIMIT_FSIZE, l.FileSize},
		{unix.RLIMIT_CPU, l.CPUSeconds},
	} {
		if x.v == 0 {
			continue
		}
		if err := unix.Prlimit(pid, x.res, &unix.Rlimit{Cur: x.v, Max: x.v}, nil); err != nil {
			return err
		}
	}
	return nil
}
