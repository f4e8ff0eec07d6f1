package cli

import (
	"strings"
	"testing"
)

// TestWarmFlagRefusals: --warm is refused with --remote (the daemon has
// its own), with --no-warm, and out of bounds, each as a usage error
// before any spec is read.
func TestWarmFlagRefusals(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--remote", "--warm", "2", "--file", "x.yaml"}, "--warm: the daemon decides its warm pool"},
		{[]string{"run", "--warm", "2", "--no-warm", "--file", "x.yaml"}, "no-warm turns off"},
		{[]string{"run", "--warm", "-1", "--file", "x.yaml"}, "warm pool: -1 is outside 0..32"},
		{[]string{"run", "--warm", "33", "--file", "x.yaml"}, "warm pool: 33 is outside 0..32"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", c.args, code, stderr, c.want)
		}
	}
}
