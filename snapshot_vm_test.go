package voidbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox"
)

// TestNamedSnapshotVM: a box naming a snapshot starts from it (its hostname
// is the restore's: the box's name and a suffix), on its retries too; a
// box of another memory size is refused with the difference before any
// command runs; a box with a network or mounts is refused at once, saying
// why.
func TestNamedSnapshotVM(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	ctx := context.Background()
	cfg := vmConfig(t, "named")
	cfg.Policy = voidbox.Policy{MemoryMiB: 256}
	dir := filepath.Join(t.TempDir(), "snap")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := voidbox.CreateSnapshot(ctx, cfg, dir); err != nil {
		t.Fatal(err)
	}
	host := hostConfig(t)
	host.NoWarm = true // the restore is the box's own, not a warm start

	// The first attempt fails on purpose: the retry must restore again.
	marker := "/workspace/attempted"
	box := voidbox.NewBox("from-snap").Memory(256).Snapshot(dir).Retries(1, 0).
		Exec("sh", "-c", "hostname; if [ -e "+marker+" ]; then exit 0; fi; touch "+marker+"; exit 3")
	rep, err := voidbox.NewPipeline("snap").Pipe(box).Run(ctx, voidbox.RunOptions{Host: host})
	if rep == nil {
		t.Fatal(err)
	}
	if rep.Status != voidbox.StatusFailed || rep.Stages[0].Attempts != 2 {
		// Both attempts exit 3: the retry's VM is a fresh restore, without
		// the first attempt's marker file.
		t.Fatalf("want two failed attempts (no file survives into the retry), got %s after %d: %s", rep.Status, rep.Stages[0].Attempts, rep.Error)
	}
	ok := voidbox.NewBox("from-snap").Memory(256).Snapshot(dir).Exec("hostname")
	rep, err = voidbox.NewPipeline("snap").Pipe(ok).Run(ctx, voidbox.RunOptions{Host: host})
	if err != nil || rep.Status != voidbox.StatusSucceeded {
		t.Fatalf("run from the snapshot: %v %+v", err, rep)
	}
	if h := strings.TrimSpace(string(rep.Output)); !strings.HasPrefix(h, "from-snap-") {
		t.Fatalf("hostname %q: want the restore's from-snap-XXXXXX", h)
	}

	// Another memory size: refused with the reason, nothing half-used.
	big := voidbox.NewBox("big").Memory(384).Snapshot(dir).Exec("true")
	rep, err = voidbox.NewPipeline("snap").Pipe(big).Run(ctx, voidbox.RunOptions{Host: host})
	if rep == nil {
		t.Fatal(err)
	}
	if rep.Status != voidbox.StatusFailed || rep.Stages[0].Attempts != 1 ||
		!strings.Contains(rep.Stages[0].Error, "memory is 256 MiB in the snapshot, 384 MiB here") {
		t.Fatalf("mismatched snapshot: want refused once naming the memory, got %s after %d: %q", rep.Status, rep.Stages[0].Attempts, rep.Stages[0].Error)
	}

	// A network or mounts: refused before anything boots.
	for name, p := range map[string]voidbox.Policy{
		"network": {MemoryMiB: 256, Snapshot: dir, Network: voidbox.PublicNetwork()},
		"mounts":  {MemoryMiB: 256, Snapshot: dir, Mounts: []voidbox.Mount{{Host: t.TempDir(), Guest: "/data"}}},
	} {
		b := voidbox.NewBox(name).Sandbox(p).Exec("true")
		_, err := voidbox.NewPipeline("snap").Pipe(b).Run(ctx, voidbox.RunOptions{Host: host})
		if !errors.Is(err, voidbox.ErrInvalid) || !strings.Contains(err.Error(), "started from a snapshot cannot have") {
			t.Fatalf("%s with a snapshot: want refused, got %v", name, err)
		}
	}
}
