package cli

import (
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/confine"
	"github.com/voidbox/voidbox/internal/vmm"
)

func TestConfinementCheckSaysWhatIsMissing(t *testing.T) {
	full := vmm.ConfineStatus{Status: confine.Status{OwnUID: true, Cgroup: "/sys/fs/cgroup/voidbox (v2)"}, Seccomp: true}
	if c := confinementCheck(full); !c.OK || c.Fix != "" || !strings.Contains(c.Detail, "seccomp on") {
		t.Errorf("full: %+v", c)
	}
	cases := []struct {
		st      vmm.ConfineStatus
		detail  string
		fixHint string
	}{
		{vmm.ConfineStatus{Status: confine.Status{UIDReason: "voidbox is not root", CgroupReason: "not root"}, Seccomp: true},
			"voidbox's uid (voidbox is not root)", "as root"},
		{vmm.ConfineStatus{Status: confine.Status{OwnUID: true, CgroupReason: "no cgroup v2 hierarchy"}, Seccomp: true},
			"no cgroup (no cgroup v2 hierarchy)", "cgroup v2"},
		{vmm.ConfineStatus{Status: confine.Status{OwnUID: true, Cgroup: "x"}, SeccompReason: "QEMU refuses -sandbox"},
			"no seccomp (QEMU refuses -sandbox)", "seccomp"},
	}
	for _, tc := range cases {
		c := confinementCheck(tc.st)
		if !c.OK || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fixHint) {
			t.Errorf("%+v: got %+v", tc.st, c)
		}
	}
}
