package stage

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/sandbox/sandboxtest"
)

// TestRetryBootsCold: the first attempt of a stage starts through Warm,
// its retry through Boot (a clean cold VM, whatever the template held).
func TestRetryBootsCold(t *testing.T) {
	g := sandboxtest.New()
	var calls atomic.Int32
	g.Handle("flaky", func(ctx context.Context, p *sandboxtest.Process) int {
		if calls.Add(1) == 1 {
			return 1
		}
		return 0
	})
	var warm, cold atomic.Int32
	count := func(n *atomic.Int32) BootFunc {
		return func(ctx context.Context, cfg sandbox.Config) (*sandbox.Sandbox, error) {
			n.Add(1)
			return g.Boot(ctx, cfg)
		}
	}
	box := &Box{Name: "flaky", Exec: []string{"flaky"}, Retries: 1}
	b := pipeline.NewPipeline("t")
	b.Pipe(box.Node())
	gr, _ := b.Build()
	if _, err := Run(context.Background(), gr, map[string]Staged{"flaky": {Box: box}}, Host{},
		Options{Boot: count(&cold), Warm: count(&warm)}); err != nil {
		t.Fatal(err)
	}
	if warm.Load() != 1 || cold.Load() != 1 {
		t.Fatalf("warm starts %d, cold boots %d; want 1 and 1", warm.Load(), cold.Load())
	}
}
