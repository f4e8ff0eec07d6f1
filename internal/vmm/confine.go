package vmm

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/voidbox/voidbox/internal/confine"
	"github.com/voidbox/voidbox/internal/policy"
)

// Confinement is how QEMU is jailed on this host, probed once per run and
// shared by every VM: the jail (own uid, cgroup, descriptors; see
// internal/confine) and QEMU's own seccomp filter.
type Confinement struct {
	Jail confine.Host
	// Seccomp: this QEMU was built with seccomp and gets -sandbox.
	Seccomp       bool
	SeccompReason string // why not, when not
}

// ProbeConfinement probes the host's jails and whether qemu supports
// -sandbox (it runs `qemu -sandbox … -version`, ~20 ms).
func ProbeConfinement(ctx context.Context, qemu string) Confinement {
	c := Confinement{Jail: confine.Probe()}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, qemu, "-sandbox", seccompSandbox, "-version").CombinedOutput()
	if err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if first == "" {
			first = err.Error()
		}
		c.SeccompReason = "QEMU refuses -sandbox (built without seccomp?): " + first
	} else {
		c.Seccomp = true
	}
	return c
}

// Status is what the host's confinement gives a VM (a host-level report).
func (c Confinement) Status() ConfineStatus {
	st := ConfineStatus{Status: c.Jail.Status(), Seccomp: c.Seccomp, SeccompReason: c.SeccompReason}
	if !c.Seccomp && st.SeccompReason == "" {
		st.SeccompReason = "confinement not probed"
	}
	return st
}

// ConfineStatus is which confinements a QEMU runs under, and why any does not.
type ConfineStatus struct {
	confine.Status
	Seccomp       bool   `json:"seccomp"`
	SeccompReason string `json:"seccomp_reason,omitempty"`
}

// Summary is one line for humans.
func (s ConfineStatus) Summary() string {
	sc := "seccomp on"
	if !s.Seccomp {
		sc = "no seccomp (" + s.SeccompReason + ")"
	}
	return s.Status.Summary() + ", " + sc
}

// Jail limits of one QEMU. Memory: the guest's RAM, TCG's translation cache
// (sized explicitly, accelArg) and what QEMU itself needs beside them.
// Measured under TCG (2026-12-04) with `dd bs=80%-of-RAM` filling the guest:
// QEMU's peak RSS was guest RAM + 170 MiB at 256 MiB, + 116 MiB at 1024
// MiB, with 55 MiB of translated code of the 256 the cache may hold. The
// limit leaves room for a full cache on top; a QEMU past it is killed by
// its cgroup (and the VM's end says so), never the host.
const (
	tcgCodeMiB       = 256
	qemuOwnMiB       = 160
	qemuTasks        = 128 // threads: main loop, RCU, vCPUs, a worker pool of up to 64
	cpuWeightPerVCPU = 100
)

// limits are the cgroup limits of a VM's QEMU.
func limits(p policy.Sandbox, a Accel) confine.Limits {
	p = p.WithDefaults()
	mib := int64(p.MemoryMiB) + qemuOwnMiB
	if a == TCG {
		mib += tcgCodeMiB
	}
	return confine.Limits{
		MemoryBytes: mib << 20,
		Tasks:       qemuTasks + 2*p.VCPUs,
		// A VM weighs as much as that many busy host processes, no more.
		CPUWeight: min(10000, cpuWeightPerVCPU*p.VCPUs),
	}
}

// kvmGroups is the group QEMU needs to open /dev/kvm: the device's group,
// when the group may read and write it. Under TCG it needs none.
func kvmGroups(a Accel) []int {
	if a != KVM {
		return nil
	}
	fi, err := os.Stat("/dev/kvm")
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || fi.Mode().Perm()&0o060 != 0o060 || st.Gid == 0 {
		return nil // root-only: QEMU under its own uid cannot use KVM (the smoke boot says so)
	}
	return []int{int(st.Gid)}
}
