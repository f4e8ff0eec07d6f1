package setup

import (
	"bytes"
	"context"
	"errors"
	"github.com/voidbox/voidbox/internal/testgate"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunStopsAtMissingQEMU(t *testing.T) {
	t.Setenv("VOIDBOX_QEMU", filepath.Join(t.TempDir(), "absent"))
	cache := filepath.Join(t.TempDir(), "cache")
	_, err := Run(context.Background(), Options{CacheDir: cache, GuestInit: "/nonexistent"})
	if !errors.Is(err, ErrMissingDependency) {
		t.Errorf("Run without QEMU: %v", err)
	}
	if _, statErr := os.Stat(cache); !os.IsNotExist(statErr) {
		t.Error("Run touched the cache before finding QEMU")
	}
}

func TestRunRejectsNonStaticAgent(t *testing.T) {
	t.Setenv("VOIDBOX_QEMU", "")
	_, err := Run(context.Background(), Options{CacheDir: t.TempDir(), GuestInit: writeScript(t, t.TempDir())})
	if err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("script as agent: %v", err)
	}
}

// TestIntegrationRun is `voidbox setup` end to end against Debian's archive. It fails, not skips,
// when it cannot run, unless the developer opts out with VOIDBOX_SKIP_NETWORK_TESTS=1. It uses
// $VOIDBOX_CACHE_DIR when set, so CI can share one download with the VM tests; else a fresh cache.
func TestIntegrationRun(t *testing.T) {
	testgate.Skip(t, testgate.SkipNetwork, "Debian's kernel and busybox")
	t.Setenv("VOIDBOX_QEMU", "")
	agent := buildProgram(t, t.TempDir(), helloMain, true)
	var log bytes.Buffer
	cache := os.Getenv("VOIDBOX_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join(t.TempDir(), "cache")
	}
	o := Options{CacheDir: cache, GuestInit: agent, Progress: &log}
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run (set VOIDBOX_SKIP_NETWORK_TESTS=1 to opt out): %v\n%s", err, log.String())
	}
	if r.QEMU == "" || r.GuestInit != agent || r.KernelRelease == "" {
		t.Errorf("result %+v", r)
	}
	for _, p := range []string{r.Kernel, r.Initramfs, r.BzImage} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	log.Reset()
	again, err := Run(context.Background(), o)
	if err != nil || !again.Cached || again.Digest != r.Digest || strings.Contains(log.String(), "downloading") {
		t.Errorf("second Run: %v cached=%v, progress %q", err, again != nil && again.Cached, log.String())
	}
	t.Log(again.Summary())
}
