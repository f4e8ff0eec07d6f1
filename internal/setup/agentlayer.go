package setup

import (
	"context"
	"fmt"
	"os"

	"github.com/voidbox/voidbox/internal/guestimage"
)

// AgentGuestPath is where the built-in agent binary sits in agent-stage guests.
const AgentGuestPath = "/usr/lib/voidbox/voidbox-agent"

// agentLayer adds voidbox-agent to the image of agent stages only: command
// stages boot without its ~15 MB, which would cost every boot its unpacking.
type agentLayer struct{ path string }

func (agentLayer) Name() string { return "agent" }

func (l agentLayer) Key(ctx context.Context) (string, error) {
	fi, err := os.Stat(l.path)
	if err != nil {
		return "", fmt.Errorf("voidbox-agent: %w", err)
	}
	d, err := guestimage.InputDigest(ctx, l.path) // a start does not re-read 20 MB
	if err != nil {
		return "", fmt.Errorf("voidbox-agent: %w", err)
	}
	return fmt.Sprintf("%s-%d", d, fi.Size()), nil
}

func (l agentLayer) Populate(_ context.Context, t *guestimage.Tree) error {
	t.CopyFile(AgentGuestPath[1:], 0o755, l.path)
	return nil
}
