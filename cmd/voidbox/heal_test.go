package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/vmtest"
)

// privateCache is a cache with the prepared host's kernel, busybox and
// kept packages copied in (extracting them again needs no network), and
// nothing else: no image is built in it yet.
func privateCache(t *testing.T) string {
	t.Helper()
	shared := vmtest.Setup(t).CacheDir
	cache := t.TempDir()
	for _, p := range []string{"kernel", "busybox", "debs", "resolved.json"} {
		out, err := exec.Command("cp", "-a", filepath.Join(shared, p), cache).CombinedOutput()
		if err != nil {
			t.Fatalf("copying the prepared cache: %v: %s", err, out)
		}
	}
	return cache
}

// voidboxCache runs voidbox with VOIDBOX_CACHE_DIR=cache and a fresh runtime dir.
func voidboxCache(t *testing.T, cache string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir(), "VOIDBOX_CACHE_DIR="+cache)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running voidbox: %v", err)
	}
	return result{code, out.String(), errb.String()}
}

// TestCacheRepairE2E: a truncated vmlinux, a truncated initramfs and a
// deleted module are each reported by doctor, and the next start repairs
// them (saying so) and runs.
func TestCacheRepairE2E(t *testing.T) {
	cache := privateCache(t)
	r := voidboxCache(t, cache, "setup", "--json")
	var res struct {
		Image struct{ Kernel, Initramfs string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); r.code != 0 || err != nil {
		t.Fatalf("setup: exit %d %v: %s", r.code, err, r.stderr)
	}
	modules, _ := filepath.Glob(filepath.Join(filepath.Dir(res.Image.Kernel), "lib", "modules", "*", "kernel", "drivers", "virtio", "virtio_mmio.ko"))
	if len(modules) != 1 {
		t.Fatalf("virtio_mmio.ko in the cache: %v", modules)
	}
	for _, c := range []struct {
		name, path string
		damage     func(string) error
	}{
		{"truncated vmlinux", res.Image.Kernel, func(p string) error { return os.Truncate(p, 1<<20) }},
		{"truncated initramfs", res.Image.Initramfs, func(p string) error { return os.Truncate(p, 1000) }},
		{"deleted module", modules[0], os.Remove},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.damage(c.path); err != nil {
				t.Fatal(err)
			}
			d := voidboxCache(t, cache, "doctor")
			if d.code != 1 || !strings.Contains(d.stdout, "FAIL cache-files") || !strings.Contains(d.stdout, c.path) {
				t.Fatalf("doctor on a damaged cache: exit %d\n%s", d.code, d.stdout)
			}
			e := voidboxCache(t, cache, "exec", "--", "echo", "ok")
			if e.code != 0 || e.stdout != "ok\n" || !strings.Contains(e.stderr, "the cache is damaged ("+c.path) {
				t.Fatalf("start on a damaged cache: exit %d, stdout %q, stderr:\n%s", e.code, e.stdout, e.stderr)
			}
			if d := voidboxCache(t, cache, "doctor"); !strings.Contains(d.stdout, "ok   cache-files") {
				t.Fatalf("doctor after the repair:\n%s", d.stdout)
			}
		})
	}
}

// TestSetupKilledE2E: set-up killed with SIGKILL at random points never
// leaves a cache that a start boots wrong: the next start either finds it
// intact or repairs it, and the guest runs.
func TestSetupKilledE2E(t *testing.T) {
	kernel := vmtest.Setup(t).KernelRelease
	cache := privateCache(t)
	// How long an undisturbed set-up takes here: the kill points fall inside it.
	os.RemoveAll(filepath.Join(cache, "kernel"))
	os.RemoveAll(filepath.Join(cache, "busybox"))
	pristine := t.TempDir()
	if out, err := exec.Command("cp", "-a", cache+"/.", pristine).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	began := time.Now()
	if r := voidboxCache(t, cache, "setup"); r.code != 0 {
		t.Fatalf("setup: %d %s", r.code, r.stderr)
	}
	full := time.Since(began)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("an undisturbed set-up took %v; kill points from seed %d", full.Round(100*time.Millisecond), seed)
	for i := range 10 {
		os.RemoveAll(cache)
		if out, err := exec.Command("cp", "-a", pristine, cache).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		// Half the runs die in a set-up that starts on an empty cache, half
		// in one that finishes what a killed one left.
		runs := 1 + i%2
		var at []time.Duration
		for range runs {
			at = append(at, time.Duration(rng.Int64N(int64(full))))
			cmd := exec.Command(bin, "setup")
			cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir(), "VOIDBOX_CACHE_DIR="+cache)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(at[len(at)-1])
			cmd.Process.Kill()
			cmd.Wait()
		}
		e := voidboxCache(t, cache, "exec", "--", "uname", "-r")
		if e.code != 0 || strings.TrimSpace(e.stdout) != kernel {
			t.Fatalf("run %d (killed at %v): the next start: exit %d, stdout %q, stderr:\n%s", i, at, e.code, e.stdout, e.stderr)
		}
		if d := voidboxCache(t, cache, "doctor"); !strings.Contains(d.stdout, "ok   cache-files") {
			t.Fatalf("run %d (killed at %v): doctor after the start:\n%s", i, at, d.stdout)
		}
	}
}
