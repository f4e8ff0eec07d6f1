package voidbox

import (
	"context"
	"sync"

	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/stage"
)

// slotBooter boots each VM of a run inside a slot of RunOptions.VMSlots.
type slotBooter struct {
	slots VMSlots
	boot  stage.BootFunc // sandbox.Boot, or a warm start
	// vms counts the watchers that give a slot back when their VM's QEMU
	// exits; wait waits for them, so no goroutine outlives the run.
	vms sync.WaitGroup
}

func (b *slotBooter) Boot(ctx context.Context, cfg sandbox.Config) (*sandbox.Sandbox, error) {
	if err := b.slots.Acquire(ctx); err != nil {
		return nil, err
	}
	sb, err := b.boot(ctx, cfg)
	if err != nil {
		b.slots.Release() // a failed boot has stopped its QEMU already
		return nil, err
	}
	b.vms.Go(func() {
		<-sb.Done()
		b.slots.Release()
	})
	return sb, nil
}

// wait returns once every VM booted through b is gone. Every stage closes
// its VM before the run returns, so this does not block for long.
func (b *slotBooter) wait() { b.vms.Wait() }
