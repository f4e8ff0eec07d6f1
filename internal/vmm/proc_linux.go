package vmm

import "syscall"

// procAttr puts QEMU in its own process group (a terminal's Ctrl-C reaches
// voidbox, which stops the VM in order) and has the kernel kill it if this
// process dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
