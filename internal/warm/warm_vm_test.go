package warm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/snapshot"
	"github.com/voidbox/voidbox/internal/vmtest"
	"github.com/voidbox/voidbox/internal/warm"
)

// TestFanOutStartsWarm: three VMs of one configuration started at once
// share one template, all three restored from it; env differences do not
// split the template; Close removes it.
func TestFanOutStartsWarm(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	r := vmtest.Setup(t)
	ctx := context.Background()
	w, err := warm.New(t.TempDir(), warm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var wg sync.WaitGroup
	sbs := make([]*sandbox.Sandbox, 3)
	errs := make([]error, 3)
	for i := range sbs {
		cfg := vmtest.Host(t).Config("fan", policy.Sandbox{MemoryMiB: 256, Env: map[string]string{"I": strings.Repeat("x", i)}}, r.Kernel, r.Initramfs)
		wg.Go(func() { sbs[i], errs[i] = w.Boot(ctx, cfg) })
	}
	wg.Wait()
	for i, sb := range sbs {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		defer sb.Close()
		if os.Getuid() == 0 && !sb.Info().Confinement.OwnUID {
			t.Fatalf("start %d: as root, QEMU should run under its own uid: %s", i, sb.Info().Confinement.Summary())
		}
		snap := sb.Info().Snapshot
		if snap == "" || filepath.Dir(snap) != w.Dir() || snap != sbs[0].Info().Snapshot {
			t.Fatalf("start %d restored from %q (template dir %s)", i, snap, w.Dir())
		}
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "echo -n $I"}})
		if err != nil || string(res.Stdout) != strings.Repeat("x", i) {
			t.Fatalf("start %d: %v %q", i, err, res.Stdout)
		}
	}
	// Guest RAM stays in memory: no memory file in the template.
	if _, err := os.Stat(filepath.Join(sbs[0].Info().Snapshot, snapshot.MemoryFile)); !os.IsNotExist(err) {
		t.Fatalf("a warm template wrote its memory file: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.Dir()); !os.IsNotExist(err) {
		t.Fatalf("template dir left behind: %v", err)
	}
	// The restored VMs keep running on their private mappings.
	if err := sbs[1].Ping(ctx); err != nil {
		t.Fatalf("a restored VM after its template was removed: %v", err)
	}
}
