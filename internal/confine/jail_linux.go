package confine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// Spec is one helper process to jail.
type Spec struct {
	// Name labels the cgroup.
	Name   string
	Limits Limits
	// Groups are supplementary groups the helper needs (the group that may
	// open /dev/kvm, when KVM is used).
	Groups []int
}

// Jail is the confinement of one helper process, made before it starts
// and released after it has exited.
type Jail struct {
	status Status
	groups []uint32
	lease  *lease // nil when the helper keeps voidbox's uid
	cg     *cgroup

	closeOnce sync.Once
	closeErr  error
}

// New makes a jail as this host allows. A confinement the host allows but
// that cannot be made (no uid left, a cgroup that cannot be created) is an
// error, never a silent downgrade; what the host does not allow at all is
// said in the jail's Status.
func (h Host) New(s Spec) (_ *Jail, err error) {
	j := &Jail{status: h.Status()}
	defer func() {
		if err != nil {
			j.Close()
		}
	}()
	if j.status.OwnUID {
		if j.lease, err = leaseUID(h.leaseDir); err != nil {
			return nil, err
		}
		j.status.UID = j.lease.uid
		for _, g := range s.Groups {
			j.groups = append(j.groups, uint32(g))
		}
	}
	if h.cgroups.usable() {
		if j.cg, err = h.cgroups.makeCgroup(s.Name, s.Limits); err != nil {
			return nil, err
		}
		j.status.Cgroup = j.cg.name()
	}
	return j, nil
}

// Status is what applies to the jailed process.
func (j *Jail) Status() Status { return j.status }

// Give hands a file to the jailed uid (mode 0400): a file only the helper
// reads, such as the VM's secret, which it opens through an inherited
// descriptor's /proc/self/fd link (reopening checks the file's own
// permissions, not the directories on its path).
func (j *Jail) Give(path string) error {
	if j.lease == nil {
		return nil
	}
	if err := os.Chown(path, j.lease.uid, j.lease.uid); err != nil {
		return err
	}
	return os.Chmod(path, 0o400)
}

// Start starts cmd jailed: in its own process group, killed if this
// process dies, under the jail's uid and gid with only Spec.Groups, in the
// jail's cgroup, inheriting only cmd's stdio and ExtraFiles (see
// closeOnExecStrays). If the process started but could not be confined, it
// is killed and waited for, and Start returns the error.
func (j *Jail) Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	sys := cmd.SysProcAttr
	// Own group: a terminal's Ctrl-C reaches voidbox, which stops helpers in
	// order. The parent-death signal is set after the uid change (which
	// would clear it) by Go's fork.
	sys.Setpgid, sys.Pdeathsig = true, syscall.SIGKILL
	if j.lease != nil {
		uid := uint32(j.lease.uid)
		sys.Credential = &syscall.Credential{Uid: uid, Gid: uid, Groups: j.groups}
	}
	if j.cg != nil && j.cg.fd >= 0 {
		sys.UseCgroupFD, sys.CgroupFD = true, j.cg.fd
	}
	if err := closeOnExecStrays(); err != nil {
		return fmt.Errorf("marking inherited descriptors close-on-exec: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := j.cg.join(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	return nil
}

// OOMKilled reports whether the cgroup's memory limit killed the helper.
func (j *Jail) OOMKilled() bool { return j.cg.oomKilled() }

// Close removes the cgroup and gives the uid back. Precondition: the
// helper has exited and been waited for. Idempotent.
func (j *Jail) Close() error {
	j.closeOnce.Do(func() {
		var errs []error
		if j.cg != nil {
			errs = append(errs, j.cg.remove())
		}
		j.lease.release()
		j.closeErr = errors.Join(errs...)
	})
	return j.closeErr
}
