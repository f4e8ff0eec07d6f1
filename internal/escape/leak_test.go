package escape_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostState is what a case may not leave behind: the test process's open
// descriptors, its child processes, processes naming the test's runtime
// root, and VM runtime directories under it.
type hostState struct {
	fds      []string // "fd -> target", sorted
	children []int
	strays   []string // processes whose command line names the runtime root
	dirs     []string // entries of the runtime parent
}

// privateRuntime points this test's VMs at a runtime root of its own, so
// that every runtime directory and socket they make is under it.
func privateRuntime(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", root)
	return root
}

func snapshot(root string) hostState {
	var s hostState
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the directory's own descriptor, closed by now
		}
		s.fds = append(s.fds, e.Name()+" -> "+describeFD(target))
	}
	slices.Sort(s.fds)
	me := os.Getpid()
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == me {
			continue
		}
		if parentOf(pid) == me {
			s.children = append(s.children, pid)
		}
		if cmd, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline")); err == nil && strings.Contains(string(cmd), root) {
			s.strays = append(s.strays, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
	}
	vms, _ := os.ReadDir(filepath.Join(root, "voidbox"))
	for _, v := range vms {
		// admission/ holds the user's lock files, kept on purpose.
		if strings.HasPrefix(v.Name(), "vm-") {
			s.dirs = append(s.dirs, v.Name())
		}
	}
	return s
}

// parentOf reads a process's parent from /proc/PID/stat (field 4, after
// the command name, which may itself hold spaces and parentheses).
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// leaks says what now differs from before, "" if nothing does. Descriptors
// are compared by count: a descriptor number can be reused for another
// file, which is no leak.
func (now hostState) leaks(before hostState) string {
	var out []string
	if len(now.fds) > len(before.fds) {
		out = append(out, fmt.Sprintf("%d descriptors open, %d before: now %v", len(now.fds), len(before.fds), now.fds))
	}
	for _, c := range now.children {
		if !slices.Contains(before.children, c) {
			out = append(out, fmt.Sprintf("child process %d left (%s)", c, commandOf(c)))
		}
	}
	if len(now.strays) > len(before.strays) {
		out = append(out, fmt.Sprintf("processes naming the runtime root: %v", now.strays))
	}
	if len(now.dirs) > len(before.dirs) {
		out = append(out, fmt.Sprintf("runtime directories left: %v", now.dirs))
	}
	return strings.Join(out, "; ")
}

func commandOf(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}

// assertNoLeak waits (QEMU's exit and the descriptors' closing are
// asynchronous) until nothing differs from before, and fails the test
// naming what leaked if something still does after the grace period.
func assertNoLeak(t *testing.T, root string, before hostState) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		l := snapshot(root).leaks(before)
		if l == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("leaked: %s", l)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// describeFD names a socket's TCP endpoints when it has any, so that a
// leaked connection says where it went: "socket:[123] tcp 127.0.0.1:80 ->
// 127.0.0.1:4242".
func describeFD(target string) string {
	inode, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return target
	}
	inode = strings.TrimSuffix(inode, "]")
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, _ := os.ReadFile(table)
		for _, l := range strings.Split(string(b), "\n") {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(l)
			if len(f) > 9 && f[9] == inode {
				return fmt.Sprintf("%s tcp %s -> %s", target, hexAddr(f[1]), hexAddr(f[2]))
			}
		}
	}
	return target
}

// hexAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080"
// (IPv4; other addresses are left as the kernel wrote them).
func hexAddr(s string) string {
	ip, port, ok := strings.Cut(s, ":")
	p, err := strconv.ParseUint(port, 16, 16)
	if !ok || err != nil || len(ip) != 8 {
		return s
	}
	v, err := strconv.ParseUint(ip, 16, 32)
	if err != nil {
		return s
	}
	return fmt.Sprintf("%d.%d.%d.%d:%d", byte(v), byte(v>>8), byte(v>>16), byte(v>>24), p)
}
