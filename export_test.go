package voidbox

import (
	"context"

	"github.com/voidbox/voidbox/internal/sandbox"
)

// ExecRoot lets the external tests run a command as root in the guest, as
// the host's provisioning path does (e.g. to prove a root-only file exists).
func ExecRoot(s *Sandbox, ctx context.Context, args ...string) (*Result, error) {
	return s.s.Exec(ctx, sandbox.Cmd{Args: args, As: sandbox.AsRoot})
}
