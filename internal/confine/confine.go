// Package confine starts the host-side helper processes of a sandbox (QEMU,
// and whatever else joins it: virtiofsd, an out-of-process netstack) jailed
// the same way: an unprivileged uid and gid of their own, a cgroup with
// memory, task and CPU limits, and no inherited descriptor they were not
// given. A device-emulation bug exploited from the guest then lands in a
// process that owns no file on the host, can signal or trace no other
// sandbox's process, and cannot take the host's memory or tasks.
//
// Every part is applied where the host allows it and reported otherwise
// (Status): dropping to another uid needs root; cgroup limits need a
// writable cgroup v2 hierarchy with the controllers, or the cgroup v1
// memory/pids/cpu hierarchies.
package confine

import (
	"fmt"
	"strings"
)

// UIDBase and UIDCount delimit the uids (and equal gids) jails use: a 64 Ki
// block inside the range systemd sets aside for containers (524288 to
// 1879048191, https://systemd.io/UIDS-GIDS/), with no passwd entry. Each
// running jail holds one, so no two helpers ever share a uid.
const (
	UIDBase  = 0x56420000 // 1447165952
	UIDCount = 1 << 16
)

// Limits bound one jailed process. Zero fields set no limit.
type Limits struct {
	// MemoryBytes is memory.max (v2) or memory.limit_in_bytes (v1).
	MemoryBytes int64
	// Tasks is pids.max: threads count, not only processes.
	Tasks int
	// CPUWeight is cpu.weight (1..10000, 100 is the kernel's default); v1
	// hierarchies get the same share as cpu.shares (weight × 1024 / 100).
	CPUWeight int
}

// Status says which confinements apply (or would apply) and why any does
// not. It is what `voidbox doctor` and a sandbox's Info report.
type Status struct {
	// OwnUID: the process runs under an unprivileged uid and gid of its
	// own, UID (0 in a host's Status, where each jail gets its own).
	OwnUID bool `json:"own_uid"`
	UID    int  `json:"uid,omitempty"`
	// UIDReason says why the process keeps voidbox's uid, if it does.
	UIDReason string `json:"uid_reason,omitempty"`
	// Cgroup names the cgroup (v2) or cgroups (v1) that hold the process
	// (in a host's Status, where they are made).
	Cgroup string `json:"cgroup,omitempty"`
	// CgroupReason says why there is no cgroup, if there is none.
	CgroupReason string `json:"cgroup_reason,omitempty"`
}

// Summary is one line for humans.
func (s Status) Summary() string {
	var parts []string
	switch {
	case s.OwnUID && s.UID != 0:
		parts = append(parts, fmt.Sprintf("uid %d", s.UID))
	case s.OwnUID:
		parts = append(parts, "a uid of its own")
	default:
		parts = append(parts, "voidbox's uid ("+s.UIDReason+")")
	}
	if s.Cgroup != "" {
		parts = append(parts, "cgroup "+s.Cgroup)
	} else {
		parts = append(parts, "no cgroup ("+s.CgroupReason+")")
	}
	return strings.Join(parts, ", ")
}
