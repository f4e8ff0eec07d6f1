package voidbox_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox"
)

// TestWarmPoolRunVM: a run with a warm pool runs a pipeline whose stages
// start from parked VMs; a retry gets a clean VM (the first attempt's file
// is not there); when the run returns, no VM of it is left.
func TestWarmPoolRunVM(t *testing.T) {
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	host := hostConfig(t)
	host.WarmPool = 2
	mark := "/workspace/attempted"
	// The retry boots cold, as without a pool; it must not see the first
	// attempt's file.
	flaky := sh("flaky", `if [ -e `+mark+` ]; then echo reused; exit 9; fi; touch `+mark+`; [ "$VOIDBOX_ATTEMPT" -ge 2 ] && echo fresh`).Retries(1, 0)
	last := sh("c", `test ! -e `+mark+` && echo "$(cat /workspace/input.json) $(hostname)"`)
	p := voidbox.NewPipeline("pool").Pipe(sh("a", "touch "+mark+"; hostname")).Pipe(flaky).Pipe(last)
	rep, err := p.Run(context.Background(), voidbox.RunOptions{Host: host})
	if err != nil {
		t.Fatalf("%v: %+v", err, rep)
	}
	for _, s := range rep.Stages {
		if s.Status != voidbox.StatusSucceeded {
			t.Fatalf("stage %s: %s %s", s.Name, s.Status, s.Error)
		}
	}
	// The last stage is a parked VM resumed under its own name.
	out := strings.Fields(string(rep.Output))
	if s := rep.Stages[1]; s.Attempts != 2 || len(out) != 2 || out[0] != "fresh" || !strings.HasPrefix(out[1], "c-") {
		t.Fatalf("flaky: %d attempts; output %q (want fresh c-XXXXXX)", s.Attempts, rep.Output)
	}
	left, err := filepath.Glob(filepath.Join(runtime, "voidbox", "vm-*"))
	if err != nil || len(left) != 0 {
		t.Fatalf("VMs left after the run: %v %v", left, err)
	}
	host.NoWarm = true
	if _, err := p.Run(context.Background(), voidbox.RunOptions{Host: host}); err == nil || !strings.Contains(err.Error(), "warm pool") {
		t.Fatalf("a pool with no-warm: want refused, got %v", err)
	}
}
