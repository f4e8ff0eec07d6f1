//go:build unix

package shell

import (
	"os/exec"
	"syscall"
)

// setGroup starts cmd in a new process group so the whole group can be
// killed, including children it leaves behind.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills cmd's process group. ESRCH (already gone) is expected.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
