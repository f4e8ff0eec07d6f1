package testgate

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSkip runs a probe test in a child process under each environment:
// the opt-out skips a developer's run and fails a CI run.
func TestSkip(t *testing.T) {
	if os.Getenv("TESTGATE_PROBE") == "1" {
		Skip(t, SkipVM, "a VM")
		t.Log("probe ran")
		return
	}
	for _, tc := range []struct {
		env  []string
		want string // in the child's output
		fail bool
	}{
		{[]string{"CI=", SkipVM + "="}, "probe ran", false},
		{[]string{"CI=", SkipVM + "=1"}, "SKIP", false},
		{[]string{"CI=true", SkipVM + "=1"}, "CI must run the tests that need a VM", true},
		{[]string{"CI=1", SkipVM + "=yes"}, "CI must run", true},
		{[]string{"CI=false", SkipVM + "=1"}, "SKIP", false},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestSkip$", "-test.v")
		cmd.Env = append(os.Environ(), append(tc.env, "TESTGATE_PROBE=1")...)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fail || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: err %v, output:\n%s", tc.env, err, out)
		}
	}
}
