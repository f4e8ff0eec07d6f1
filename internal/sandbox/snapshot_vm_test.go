package sandbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/control"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/snapshot"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestSnapshotRestore takes one template and restores it three times: two
// copies that work and are independent (files, random bytes, hostnames),
// one that shows the snapshot's secret refused after a re-key. The memory
// and state files are byte-identical before and after, private, and free of
// a canary the stage's env carried; a restore into another machine is
// refused with the reason.
func TestSnapshotRestore(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	r := vmtest.Setup(t)
	ctx := context.Background()
	canary := "canary-" + hex.EncodeToString(randBytes(t, 12))
	cfg := vmtest.Host(t).Config("snap", policy.Sandbox{MemoryMiB: 256, Env: map[string]string{"CANARY": canary}}, r.Kernel, r.Initramfs)
	m, err := sandbox.MachineOf(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := snapshot.Store{Dir: filepath.Join(t.TempDir(), "snaps")}.Create("t")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sandbox.Template(ctx, cfg, m, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("template: save %d ms, memory %d KiB on disk, state %d KiB", meta.SaveMS, meta.MemoryBytes>>10, meta.StateBytes>>10)
	if err := snapshot.CheckPrivate(dir); err != nil {
		t.Fatal(err)
	}
	before := digests(t, dir)

	restore := func(name string) *sandbox.Sandbox {
		c := cfg
		c.Name = name
		start := time.Now()
		sb, err := sandbox.Restore(ctx, c, dir)
		if err != nil {
			t.Fatalf("restore %s: %v", name, err)
		}
		t.Cleanup(func() { sb.Close() })
		t.Logf("restore %s: %v to a guest that answers (%s)", name, time.Since(start), sb.Info().Confinement.Summary())
		// As root QEMU is jailed (own uid, seccomp's spawn=deny): the
		// restore must work through descriptors alone.
		if c := sb.Info().Confinement; os.Getuid() == 0 && (!c.OwnUID || !c.Seccomp) {
			t.Fatalf("restore %s: as root, QEMU should run jailed with seccomp: %s", name, c.Summary())
		}
		return sb
	}
	a, b := restore("copy-a"), restore("copy-b")
	probe := func(sb *sandbox.Sandbox) []string {
		res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "echo $CANARY; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo; hostname"}})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("probe: %v %+v", err, res)
		}
		return strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	}
	pa, pb := probe(a), probe(b)
	if len(pa) != 3 || len(pb) != 3 || pa[0] != canary || pb[0] != canary {
		t.Fatalf("probe output: %q, %q", pa, pb)
	}
	if pa[1] == pb[1] || len(pa[1]) != 32 {
		t.Fatalf("two restores read the same random bytes: %s", pa[1])
	}
	if pa[2] == pb[2] || !strings.HasPrefix(pa[2], "copy-a-") {
		t.Fatalf("hostnames %q and %q", pa[2], pb[2])
	}
	if err := a.WriteFile(ctx, "/workspace/only-a", []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := b.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "ls -A /workspace; test ! -e /workspace/only-a"}})
	if err != nil || res.ExitCode != 0 || len(bytes.TrimSpace(res.Stdout)) != 0 {
		t.Fatalf("the second copy sees the first one's file or a non-empty /workspace: %v %+v", err, res)
	}

	// A third copy, re-keyed and left parked, refuses the snapshot's secret.
	old, _ := hex.DecodeString(meta.Secret)
	fresh := randBytes(t, 32)
	img, err := sandbox.OpenMemory(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	vm, err := vmm.Start(ctx, vmm.Config{QEMU: cfg.QEMU, Kernel: cfg.Kernel, Initramfs: cfg.Initramfs, Policy: cfg.Policy,
		Confine: cfg.Confine, Accel: cfg.Accel.Accel, TSCkHz: cfg.TSCkHz, CPUModel: cfg.CPUModel, Secret: fresh, Name: "copy-c",
		Memory: vmm.MemoryFile{Image: img}, Incoming: filepath.Join(dir, snapshot.StateFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if _, err := control.ResumePark(ctx, vm.Conn(), control.ResumeOptions{Secret: old, NewSecret: fresh, Hostname: "copy-c"}); err != nil {
		t.Fatalf("re-keying the third copy: %v", err)
	}
	_, err = control.Resume(ctx, vm.Conn(), control.ResumeOptions{Secret: old, NewSecret: randBytes(t, 32), Hostname: "copy-c"})
	if !errors.Is(err, control.ErrRefused) || !strings.Contains(err.Error(), "bad secret") {
		t.Fatalf("the snapshot's secret after a re-key: want refused as a bad secret, got %v", err)
	}
	vm.Close()

	// Another machine: refused before anything starts, saying why.
	other := cfg
	other.Policy.MemoryMiB, other.Policy.VCPUs = 384, 2
	if _, err := sandbox.Restore(ctx, other, dir); !errors.Is(err, snapshot.ErrMismatch) ||
		!strings.Contains(err.Error(), "memory is 256 MiB in the snapshot, 384 MiB here") || !strings.Contains(err.Error(), "vcpus is 1 in the snapshot, 2 here") {
		t.Fatalf("mismatched restore: %v", err)
	}
	a.Close()
	b.Close()
	if after := digests(t, dir); after != before {
		t.Fatalf("snapshot files changed by restores:\nbefore %s\nafter  %s", before, after)
	}
	for _, f := range []string{snapshot.MemoryFile, snapshot.StateFile, snapshot.MetaFile} {
		if bytesInFile(t, filepath.Join(dir, f), []byte(canary)) {
			t.Fatalf("the canary is in the snapshot's %s", f)
		}
	}
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func digests(t *testing.T, dir string) string {
	var out []string
	for _, f := range []string{snapshot.MemoryFile, snapshot.StateFile} {
		d, err := snapshot.Digest(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f+"="+d)
	}
	return strings.Join(out, " ")
}

func bytesInFile(t *testing.T, path string, needle []byte) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, needle)
}
