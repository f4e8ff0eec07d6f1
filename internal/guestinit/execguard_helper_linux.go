package guestinit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The exec guard's helper: a process of its own (PID 1 re-executed as
// "voidbox-exec-guard"), root, holding the seccomp listener of the
// sandbox user's processes. It is a separate process because it ptraces the
// callers it lets exec: a tracee's stops are reported to any thread of the
// tracer's process, and PID 1's command owners wait on their children,
// which would swallow them. If it dies, the listener closes and every
// guarded exec fails (ENOSYS): closed, not open.
//
// Descriptors: 3 the listener, 4 the report pipe to PID 1 (one JSON
// guardReport per line, written before the caller learns the answer, so the
// report is in the pipe before the command can end because of it).

const (
	guardArgv0      = "voidbox-exec-guard"
	guardAllowEnv   = "VOIDBOX_EXEC_GUARD_ALLOWED" // JSON list of names
	guardTrustedEnv = "VOIDBOX_EXEC_GUARD_TRUSTED" // JSON list of extra trusted directories
	guardListenFD   = 3
	guardReportFD   = 4
	guardReadyLine  = "ready"
	// execStopTimeout bounds the wait for a let-through exec to stop after
	// the kernel ran it; a caller still not there is killed.
	execStopTimeout = 30 * time.Second
	maxPathBytes    = 4096 // PATH_MAX
	maxArgvRead     = 8    // argv entries read: enough for busybox's "busybox busybox … APPLET"
)

// guardReport is a denial, as the helper sends it to PID 1.
type guardReport struct {
	Cgroup  string `json:"cgroup"` // the caller's cgroup ("/cmd-3"): which command it belongs to
	PID     int    `json:"pid"`
	Program string `json:"program"`
	Path    string `json:"path,omitempty"`
	Reason  string `json:"reason"`
	Killed  bool   `json:"killed,omitempty"`
}

type guardHelper struct {
	listener int
	report   *os.File
	rule     *execRule
}

// runExecGuard is the helper's main. It never returns.
func runExecGuard() {
	// One thread issues every ptrace request and wait: a tracee belongs to
	// the thread that attached it.
	runtime.LockOSThread()
	var allowed []string
	if err := json.Unmarshal([]byte(os.Getenv(guardAllowEnv)), &allowed); err != nil || allowed == nil {
		fmt.Fprintln(os.Stderr, "voidbox-exec-guard: no allowlist")
		os.Exit(2)
	}
	var trusted []string
	if err := json.Unmarshal([]byte(os.Getenv(guardTrustedEnv)), &trusted); err != nil {
		fmt.Fprintln(os.Stderr, "voidbox-exec-guard: bad trusted directories")
		os.Exit(2)
	}
	g := &guardHelper{listener: guardListenFD, report: os.NewFile(guardReportFD, "report"), rule: newExecRule(allowed, trusted)}
	if _, err := g.report.WriteString(guardReadyLine + "\n"); err != nil {
		os.Exit(2)
	}
	for {
		var n seccompNotif
		if err := notifRecv(g.listener, &n); err != nil {
			if err == unix.ENOENT {
				continue // the caller died before we received it
			}
			logf(2, "exec guard: receiving: %v; guarded execs fail from now on", err)
			os.Exit(1)
		}
		g.handle(&n)
	}
}

func (g *guardHelper) handle(n *seccompNotif) {
	tid := int(n.pid)
	switch n.data.nr {
	case sysExecve, sysExecveat:
		g.exec(n, tid)
	case sysPrctl:
		g.prctl(n, tid)
	default:
		_ = notifRespond(g.listener, n.id, unix.EPERM)
	}
}

// exec decides an execve/execveat and, when it lets it through, checks
// what runs once the kernel has done it.
func (g *guardHelper) exec(n *seccompNotif, tid int) {
	st := readStatus(tid)
	tgid := st.tgid
	c, err := readExecCall(n, tgid, tid)
	if !notifValid(g.listener, n.id) {
		return // the caller is gone: what we read may be another's
	}
	if err != nil {
		g.deny(n, tgid, verdict{err: refuse("reading the exec's arguments: %v", err)})
		return
	}
	if st.tracer != 0 && readStatus(st.tracer).tgid == 1 {
		// PID 1's spawner traces its child up to the command's first exec
		// and checks that exec itself (spawn_linux.go): its arguments are
		// PID 1's, not the sandbox user's.
		_ = notifRespond(g.listener, n.id, 0)
		return
	}
	v := g.rule.check(c)
	if v.err != nil {
		g.deny(n, tgid, v)
		return
	}
	g.letThrough(n, tid, tgid, v)
}

// letThrough lets an allowed exec proceed and stops its caller right after
// it (PTRACE_EVENT_EXEC: the new program is loaded, none of it has run) to
// check that what runs is what was allowed: the path, the memory it was
// read from or a symlink on the way may have changed in between.
func (g *guardHelper) letThrough(n *seccompNotif, tid, tgid int, v verdict) {
	if err := ptraceSeize(tid, unix.PTRACE_O_TRACEEXEC|unix.PTRACE_O_EXITKILL); err != nil {
		// Traced by someone else (ptrace is admin-only under the guard), or gone.
		v.err = refuse("cannot be checked after the exec (%v)", err)
		g.deny(n, tgid, v)
		return
	}
	if err := notifRespond(g.listener, n.id, 0); err != nil {
		g.untrace(tid, tgid) // it died meanwhile
		return
	}
	// A stop right after the call, if the exec fails and none comes.
	_ = unix.PtraceInterrupt(tid)
	watchdog := time.AfterFunc(execStopTimeout, func() { _ = unix.Kill(tgid, unix.SIGKILL) })
	defer watchdog.Stop()
	for {
		pid, ws, err := waitTracee(tid, tgid)
		if err != nil || ws.Exited() || ws.Signaled() {
			return
		}
		if !ws.Stopped() {
			continue
		}
		switch {
		case ws.TrapCause() == unix.PTRACE_EVENT_EXEC:
			// pid is the thread group's now, even if a non-leader thread
			// made the call (the kernel gives it the leader's id).
			if err := g.verifyExec(pid, v); err != nil {
				v.err = err
				g.send(pid, v, true)
				_ = unix.Kill(pid, unix.SIGKILL)
				// A traced process's death is the tracer's to collect
				// first: until then its parent cannot reap it.
				awaitDeath(pid)
				return
			}
			_ = ptraceDetach(pid, 0)
			return
		case ws.TrapCause() == unix.PTRACE_EVENT_STOP:
			// The interrupt or a group stop: the call returned without an
			// exec (it failed). Detaching drops the pending interrupt.
			_ = ptraceDetach(pid, 0)
			return
		default:
			// A signal on its way to the caller: deliver it, keep waiting.
			_ = ptraceCont(pid, int(ws.StopSignal()))
		}
	}
}

// verifyExec checks the program a tracee runs after its exec: the file
// (device and inode) and, for busybox, the applet its new argv selects.
func (g *guardHelper) verifyExec(pid int, v verdict) error {
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return refuse("after the exec: %v", unwrapPath(err))
	}
	if idOf(fi) != v.want {
		return refuse("%s changed between the check and the exec", v.path)
	}
	if v.applet == "" {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return refuse("after the exec: %v", unwrapPath(err))
	}
	argv := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if a := appletOf(argv); a != v.applet {
		return refuse("its arguments changed between the check and the exec (applet %q, checked %q)", a, v.applet)
	}
	return nil
}

// prctl watches PR_SET_NAME: busybox names itself after the applet it runs
// without an exec (a shell's or env's "NOEXEC" applets), and the name is
// the applet. A refused applet's process is killed: the call is all that
// precedes the applet, and busybox ignores its result.
func (g *guardHelper) prctl(n *seccompNotif, tid int) {
	st := readStatus(tid)
	bb, ok := g.rule.busyboxID()
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/exe", tid))
	if !ok || err != nil || idOf(fi) != bb {
		_ = notifRespond(g.listener, n.id, 0) // not busybox: a thread naming itself
		return
	}
	name := ""
	if m, err := openMem(tid); err == nil {
		name, _ = m.cstring(n.data.args[1], 256)
		m.Close()
	}
	if !notifValid(g.listener, n.id) {
		return
	}
	if name != "" && slices.Contains(g.rule.allowed, name) {
		_ = notifRespond(g.listener, n.id, 0)
		return
	}
	// Report first: the report names the process's cgroup, read from
	// /proc while it lives, and must be in the pipe before its command's
	// end takes the command's denials (PID 1 reaps it right after the kill).
	v := verdict{program: name, err: refuse("%q (a busybox applet run without an exec) is not in allowed_commands", name)}
	g.send(st.tgid, v, true)
	_ = unix.Kill(st.tgid, unix.SIGKILL)
	_ = notifRespond(g.listener, n.id, unix.EPERM)
}

// deny reports and fails the exec with EACCES, as for a file without
// execute permission: shells print "permission denied" and exit 126.
func (g *guardHelper) deny(n *seccompNotif, pid int, v verdict) {
	g.send(pid, v, false)
	_ = notifRespond(g.listener, n.id, unix.EACCES)
}

func (g *guardHelper) send(pid int, v verdict, killed bool) {
	r := guardReport{Cgroup: cgroupOf(pid), PID: pid, Program: clip(v.program, 256), Path: clip(v.path, 1024),
		Reason: clip(v.err.Error(), 1024), Killed: killed}
	logf(4, "exec denied: pid %d %s: %s", pid, r.Program, r.Reason)
	b, _ := json.Marshal(r)
	// One write under PIPE_BUF (4096 bytes) is atomic.
	_, _ = g.report.Write(append(b, '\n'))
}

// untrace detaches from a tracee that may be running: stop it first.
func (g *guardHelper) untrace(tid, tgid int) {
	if unix.PtraceInterrupt(tid) != nil {
		return
	}
	if pid, ws, err := waitTracee(tid, tgid); err == nil && ws.Stopped() {
		_ = ptraceDetach(pid, 0)
	}
}

// awaitDeath waits until a killed tracee's death is reported, which
// hands the process to its parent.
func awaitDeath(pid int) {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || ws.Exited() || ws.Signaled() {
			return
		}
	}
}

// waitTracee waits for the next state change of a tracee. One that made
// the exec from a non-leader thread reports the exec stop under the
// leader's id, so both are polled; a leader's own wait blocks.
func waitTracee(tid, tgid int) (int, unix.WaitStatus, error) {
	var ws unix.WaitStatus
	if tid == tgid {
		for {
			pid, err := unix.Wait4(tid, &ws, unix.WALL, nil)
			if err == unix.EINTR {
				continue
			}
			return pid, ws, err
		}
	}
	for {
		for _, p := range []int{tid, tgid} {
			pid, err := unix.Wait4(p, &ws, unix.WALL|unix.WNOHANG, nil)
			if err == nil && pid > 0 {
				return pid, ws, nil
			}
			if err != nil && err != unix.ECHILD && err != unix.EINTR {
				return 0, ws, err
			}
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", tgid)); err != nil {
			return 0, ws, err // gone entirely
		}
		time.Sleep(time.Millisecond)
	}
}

// readExecCall reads an execve/execveat's arguments from the caller.
func readExecCall(n *seccompNotif, tgid, tid int) (execCall, error) {
	c := execCall{pid: tgid, tid: tid, dirfd: atFDCWD}
	a := n.data.args
	pathArg, argvArg := a[0], a[1]
	if n.data.nr == sysExecveat {
		c.dirfd = int(int32(a[0]))
		pathArg, argvArg = a[1], a[2]
	}
	m, err := openMem(tid)
	if err != nil {
		return c, err
	}
	defer m.Close()
	if c.path, err = m.cstring(pathArg, maxPathBytes); err != nil {
		return c, err
	}
	if c.argv, err = m.argv(argvArg, maxArgvRead, maxPathBytes); err != nil {
		return c, err
	}
	if n.data.nr == sysExecveat && c.path == "" && a[4]&unix.AT_EMPTY_PATH != 0 {
		c.empty = true
	}
	return c, nil
}

// taskStatus is what the guard needs of /proc/TID/status. tracer is a
// thread id (TracerPid names the tracing thread, not its process).
type taskStatus struct{ tgid, tracer int }

func readStatus(tid int) taskStatus {
	st := taskStatus{tgid: tid}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return st
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		switch k {
		case "Tgid":
			st.tgid = n
		case "TracerPid":
			st.tracer = n
		}
	}
	return st
}

// cgroupOf is a process's cgroup v2 path ("/cmd-3"), "" if unknown.
func cgroupOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
