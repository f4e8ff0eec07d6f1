package confine

import (
	"os"
	"path/filepath"
)

// Host is what this host allows a jail, probed once per run (Probe). The
// zero value confines nothing and says so in its Status.
type Host struct {
	probed    bool
	uidReason string // why jails keep voidbox's uid; "" when they get their own
	leaseDir  string // where uid leases are locked (root only)
	cgroups   cgroupHost
}

// DefaultLeaseDir holds the uid leases of every voidbox process on the host
// (root only): one place, so two voidbox processes never hand out one uid.
const DefaultLeaseDir = "/run/voidbox/uids"

// Probe looks at this process and host: root or not, which cgroup
// hierarchies are mounted and writable. It changes nothing.
func Probe() Host { return probe(DefaultLeaseDir, "/proc/self") }

func probe(leaseDir, self string) Host {
	h := Host{probed: true, leaseDir: leaseDir}
	if os.Geteuid() != 0 {
		h.uidReason = "voidbox is not root, so it cannot give QEMU another uid"
		h.cgroups.reason = "voidbox is not root (delegated cgroup subtrees are not supported yet)"
		return h
	}
	h.cgroups = probeCgroups(filepath.Join(self, "mountinfo"), filepath.Join(self, "cgroup"))
	return h
}

// Status is what a jail on this host gets.
func (h Host) Status() Status {
	if !h.probed {
		return Status{UIDReason: "confinement not probed", CgroupReason: "confinement not probed"}
	}
	st := Status{UIDReason: h.uidReason, CgroupReason: h.cgroups.reason}
	st.OwnUID = h.uidReason == ""
	if h.cgroups.usable() {
		st.Cgroup = h.cgroups.describe()
	}
	return st
}
