//go:build !linux

package vmm

import "syscall"

// procAttr: QEMU in its own process group. Other systems have no
// parent-death signal; Close and context cancellation still stop QEMU.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
