package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/vmtest"
)

// smallDisk mounts a tmpfs of size (mount(8)'s size=, "16m") on a fresh
// directory and unmounts it when the test ends. It needs root, which CI
// has; without it the test fails, never skips.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mounting a %s tmpfs (the disk-full cases need root): %v: %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// resize changes a smallDisk's size.
func resize(t *testing.T, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,size="+size, dir).CombinedOutput(); err != nil {
		t.Fatalf("resizing %s to %s: %v: %s", dir, size, err, out)
	}
}

// TestDiskFullE2E: a full disk under the cache or under what a run writes
// gives an error that says so, and leaves nothing that passes for whole:
// the cache serves a later set-up that has room, a stage writing a full
// mount fails, and a run whose events file filled up says it.
func TestDiskFullE2E(t *testing.T) {
	kernel := vmtest.Setup(t).KernelRelease

	t.Run("set-up into a full cache", func(t *testing.T) {
		cache := smallDisk(t, "24m") // the kernel package alone is ~70 MB
		r := voidboxCache(t, cache, "setup")
		if r.code == 0 || !strings.Contains(strings.ToLower(r.stderr), "no space left on device") {
			t.Fatalf("set-up into a 24 MiB cache: exit %d, stderr:\n%s", r.code, r.stderr)
		}
		t.Logf("set-up into a full cache: %s", lastLine(r.stderr))
		// A start on the full cache fails the same way instead of booting
		// from what the failed set-up left.
		if e := voidboxCache(t, cache, "exec", "--", "true"); e.code == 0 {
			t.Fatalf("exec on a half-set-up cache succeeded:\n%s", e.stderr)
		}
		resize(t, cache, "1g")
		if r := voidboxCache(t, cache, "setup"); r.code != 0 {
			t.Fatalf("set-up with room, after the full one: exit %d, stderr:\n%s", r.code, r.stderr)
		}
		if d := voidboxCache(t, cache, "doctor"); !strings.Contains(d.stdout, "ok   cache-files") {
			t.Fatalf("doctor after the set-up with room:\n%s", d.stdout)
		}
		if e := voidboxCache(t, cache, "exec", "--", "uname", "-r"); e.code != 0 || strings.TrimSpace(e.stdout) != kernel {
			t.Fatalf("exec from the repaired cache: exit %d, stdout %q, stderr:\n%s", e.code, e.stdout, e.stderr)
		}
	})

	t.Run("a stage writing to a full mount", func(t *testing.T) {
		data, dir := smallDisk(t, "4m"), t.TempDir()
		spec := filepath.Join(dir, "fill.yaml")
		os.WriteFile(spec, []byte(`api_version: v1
kind: pipeline
name: fill
sandbox:
  memory_mb: 256
  mounts: [{host: `+data+`, guest: /data, mode: rw}]
pipeline:
  boxes:
    - {name: fill, exec: [sh, -c, "dd if=/dev/zero of=/data/big bs=1M count=64"]}
    - {name: after, exec: [echo, never]}
  stages:
    - box: fill
    - box: after
`), 0o644)
		r := voidbox(t, "", "run", "--file", spec, "--output", "json", "--progress", "none")
		if r.code == 0 || !strings.Contains(r.stdout, "No space left on device") || !strings.Contains(r.stdout, `"skipped"`) {
			t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(data, "big")); err != nil {
			t.Fatalf("the guest's partial file: %v", err)
		}
	})

	t.Run("an events file on a full disk", func(t *testing.T) {
		disk := smallDisk(t, "64k")
		// Fill it whole: the events file is created, its first write fails.
		filler := bytes.Repeat([]byte("x"), 64<<10)
		if err := os.WriteFile(filepath.Join(disk, "filler"), filler, 0o644); err != nil {
			t.Fatal(err)
		}
		events := filepath.Join(disk, "events.jsonl")
		r := voidbox(t, "", "run", "--file", "../../examples/pipeline.yaml", "--events", events, "--progress", "none")
		want := "writing events to " + events + ": write " + events + ": no space left on device"
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("exit %d, stderr %q; want %q", r.code, r.stderr, want)
		}
		// The run itself is not failed by lost progress events (its report
		// is whole on stdout), and says the file is not.
		if r.code != 0 || r.stdout == "" {
			t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
		}
	})
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
