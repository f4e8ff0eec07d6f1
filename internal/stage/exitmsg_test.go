package stage

import (
	"testing"

	"github.com/voidbox/voidbox/internal/sandbox"
)

// TestAgentExitMessage: a failed agent's error names the signal that
// killed it (a SIGKILL leaves no stderr line), then its last stderr line,
// then its exit code.
func TestAgentExitMessage(t *testing.T) {
	for _, c := range []struct {
		res  sandbox.Result
		last string
		want string
	}{
		{sandbox.Result{ExitCode: 137, Signal: 9}, "", "killed by signal 9 (killed)"},
		{sandbox.Result{ExitCode: 134, Signal: 6}, "fatal error: x", "killed by signal 6 (aborted): fatal error: x"},
		{sandbox.Result{ExitCode: 1}, "no model", "no model"},
		{sandbox.Result{ExitCode: 3}, "", "exit code 3"},
	} {
		if got := exitMessage(&c.res, c.last); got != c.want {
			t.Errorf("exitMessage(%+v, %q) = %q, want %q", c.res, c.last, got, c.want)
		}
	}
}
