package sandbox

import (
	"errors"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/vmm"
)

// TestSnapshottableRefusesWhatItCannotCarry: images, host mounts, image
// mounts and shares are refused, all named, as invalid.
func TestSnapshottableRefusesWhatItCannotCarry(t *testing.T) {
	if err := Snapshottable(Config{}); err != nil {
		t.Fatal(err)
	}
	err := Snapshottable(Config{
		Policy:      policy.Sandbox{Image: "busybox", Mounts: []policy.Mount{{Host: "/src", Guest: "/workspace/src"}}},
		ImageMounts: []ImageMount{{}},
		Shares:      []vmm.Share{{Tag: "rt", HostPath: "/rt"}},
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	for _, w := range []string{"an OCI image root", "host mounts", "image mounts", "shared host directories"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not name %s", err, w)
		}
	}
	if h := Hostname("Build Step_1"); !strings.HasPrefix(h, "buildstep1-") || len(h) != len("buildstep1-")+6 || h == Hostname("Build Step_1") {
		t.Errorf("hostname %q", h)
	}
}
