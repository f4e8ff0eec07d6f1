package policy

import (
	"fmt"
	"strings"
)

// snapshotProblems checks Snapshot and what a VM started from one cannot
// have. A restored guest keeps what it had when it was parked: no NIC (a
// network would need one with its own addresses), no virtiofs or 9p
// devices (their state lives in QEMU and the host daemon), no image
// block device. Refused here, at the spec's field, rather than at boot.
func (s Sandbox) snapshotProblems() Problems {
	if s.Snapshot == "" {
		return nil
	}
	var ps Problems
	if err := CheckSnapshotRef(s.Snapshot); err != nil {
		ps = append(ps, Problem{Field: "snapshot", Message: err.Error()})
	}
	conflict := func(field, what string) {
		ps = append(ps, Problem{Field: "snapshot", Also: []string{field},
			Message: fmt.Sprintf("a box started from a snapshot cannot have %s (a snapshot carries none): drop %s or snapshot", what, field)})
	}
	if s.HasNetwork() {
		conflict("network", "a network")
	}
	if len(s.Ports) > 0 {
		conflict("ports", "port forwards")
	}
	if len(s.Mounts) > 0 {
		conflict("mounts", "host mounts")
	}
	if s.Image != "" {
		conflict("image", "an OCI image root")
	}
	return ps
}

// CheckSnapshotRef checks a snapshot reference: a store name of 1..64 of
// [a-z0-9._-] not starting with '.', or an absolute directory path.
func CheckSnapshotRef(ref string) error {
	if strings.Contains(ref, "/") {
		if !strings.HasPrefix(ref, "/") {
			return fmt.Errorf("snapshot path %q is not absolute", ref)
		}
		return nil
	}
	if ref == "" || len(ref) > 64 || ref[0] == '.' ||
		strings.Trim(ref, "abcdefghijklmnopqrstuvwxyz0123456789._-") != "" {
		return fmt.Errorf("snapshot name %q: want 1..64 of [a-z0-9._-] (not starting with '.'), or a directory path", ref)
	}
	return nil
}
