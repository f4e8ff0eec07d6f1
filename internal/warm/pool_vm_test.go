package warm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/vmtest"
	"github.com/voidbox/voidbox/internal/warm"
)

// TestPoolHandsOutParkedVMs: with a pool of two, starts are resumes of
// parked VMs restored from the template; each is handed out once (a second
// start gets another QEMU without the first one's files, hostname or
// random state); the pool refills to two parked VMs beside the one in use;
// Close stops every VM the pool holds, leaving no runtime directory.
func TestPoolHandsOutParkedVMs(t *testing.T) {
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	r := vmtest.Setup(t)
	ctx := context.Background()
	w, err := warm.New(t.TempDir(), warm.Options{Pool: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cfg := func(name string) sandbox.Config {
		return vmtest.Host(t).Config(name, policy.Sandbox{MemoryMiB: 256}, r.Kernel, r.Initramfs)
	}
	probe := func(sb *sandbox.Sandbox) []string {
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "hostname; ls -A /workspace; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'"}})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("probe: %v %+v", err, res)
		}
		return strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	}

	one, err := w.Boot(ctx, cfg("one"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(one.Info().Snapshot) != w.Dir() {
		t.Fatalf("first start restored from %q, not a template of %s", one.Info().Snapshot, w.Dir())
	}
	p1 := probe(one)
	if len(p1) != 2 || !strings.HasPrefix(p1[0], "one-") {
		t.Fatalf("first VM: %q (want hostname one-XXXXXX and an empty /workspace)", p1)
	}
	if err := one.WriteFile(ctx, "/workspace/used", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	onePID := one.Info().QEMUPID
	one.Close()

	// The pool refills: two parked VMs wait besides none in use.
	waitVMs(t, runtime, 2)
	two, err := w.Boot(ctx, cfg("two"))
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	p2 := probe(two)
	if two.Info().QEMUPID == onePID || len(p2) != 2 || !strings.HasPrefix(p2[0], "two-") || p2[1] == p1[1] {
		t.Fatalf("second start reused something of the first: pid %d vs %d, probe %q vs %q", two.Info().QEMUPID, onePID, p2, p1)
	}
	if !strings.Contains(two.Info().Snapshot, w.Dir()) {
		t.Fatalf("second start from %q", two.Info().Snapshot)
	}
	waitVMs(t, runtime, 3) // two parked, one in use
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	two.Close()
	if n := vmDirs(t, runtime); n != 0 {
		t.Fatalf("%d VM runtime dirs left after Close", n)
	}
	if _, err := os.Stat(w.Dir()); !os.IsNotExist(err) {
		t.Fatalf("template dir left: %v", err)
	}
}

// vmDirs counts the VM runtime directories under the test's runtime dir:
// one per QEMU that has not been stopped and cleaned up.
func vmDirs(t *testing.T, runtime string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(runtime, "voidbox", "vm-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// waitVMs waits until n VMs exist (the pool refills in the background;
// the deadline is generous, the VMs share the host's boot slots).
func waitVMs(t *testing.T, runtime string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for vmDirs(t, runtime) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d VMs, want %d", vmDirs(t, runtime), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
