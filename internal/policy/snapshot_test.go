package policy

import (
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// TestSnapshotRefusesWhatItCannotCarry: a snapshot reference is a store
// name or an absolute path; with a network, ports, mounts or an image
// the policy is refused at snapshot, naming the other field.
func TestSnapshotRefusesWhatItCannotCarry(t *testing.T) {
	for _, ok := range []string{"small", "a.b-c_1", "/var/snaps/x"} {
		if err := (Sandbox{Snapshot: ok}).Validate(); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"Big", ".hidden", "rel/path", strings.Repeat("a", 65)} {
		ps := AsProblems(Sandbox{Snapshot: bad}.Validate())
		if len(ps) != 1 || ps[0].Field != "snapshot" {
			t.Errorf("%q: %v", bad, ps)
		}
	}
	fwd, err := netpolicy.ParseForward("8080:80")
	if err != nil {
		t.Fatal(err)
	}
	s := Sandbox{Snapshot: "small", Network: *netpolicy.Public(), Ports: []netpolicy.Forward{fwd},
		Mounts: []Mount{{Host: "/tmp", Guest: "/data"}}, Image: "debian:12"}
	also := map[string]bool{}
	for _, p := range AsProblems(s.Validate()) {
		if p.Field == "snapshot" && len(p.Also) == 1 && strings.Contains(p.Message, "cannot have") {
			also[p.Also[0]] = true
		}
	}
	for _, f := range []string{"network", "ports", "mounts", "image"} {
		if !also[f] {
			t.Errorf("snapshot with %s: not refused (%v)", f, also)
		}
	}
}
