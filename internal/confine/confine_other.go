//go:build !linux

package confine

import (
	"os/exec"
	"syscall"
)

// Host confines nothing outside Linux; its Status says so.
type Host struct{}

// DefaultLeaseDir is unused outside Linux.
const DefaultLeaseDir = ""

// Probe reports that this system has no jails.
func Probe() Host { return Host{} }

// Status says why nothing is confined.
func (Host) Status() Status {
	return Status{UIDReason: "only on Linux", CgroupReason: "only on Linux"}
}

// Spec is one helper process to jail.
type Spec struct {
	Name   string
	Limits Limits
	Groups []int
}

// Jail only puts the helper in its own process group here.
type Jail struct{}

// New returns a jail that confines nothing.
func (Host) New(Spec) (*Jail, error) { return &Jail{}, nil }

// Status says why nothing is confined.
func (*Jail) Status() Status { return Host{}.Status() }

// Give does nothing: the helper keeps voidbox's uid.
func (*Jail) Give(string) error { return nil }

// Start starts cmd in its own process group.
func (*Jail) Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	return cmd.Start()
}

// OOMKilled is always false here.
func (*Jail) OOMKilled() bool { return false }

// Close does nothing.
func (*Jail) Close() error { return nil }
