package guestimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The real run downloads Debian's kernel and busybox once per test binary and is shared by every test
// that needs real files. It fails, not skips, when it cannot run, unless the developer opts out with
// VOIDBOX_SKIP_NETWORK_TESTS=1.
var real struct {
	once       sync.Once
	cacheDir   string
	agent      string
	first      [2]*Artifacts
	cold, warm time.Duration
	warmArt    *Artifacts
	err        error
}

// noNetwork is a PackageSource that fails every call: a warm Ensure must not reach it.
type noNetwork struct{}

func (noNetwork) Show(_ context.Context, name string) (PackageInfo, error) {
	return PackageInfo{}, errors.New("warm Ensure asked apt about " + name)
}
func (noNetwork) Download(_ context.Context, name, _, _ string) (string, error) {
	return "", errors.New("warm Ensure downloaded " + name)
}

func realArtifacts(t *testing.T) *Artifacts {
	t.Helper()
	if os.Getenv("VOIDBOX_SKIP_NETWORK_TESTS") == "1" {
		t.Skip("VOIDBOX_SKIP_NETWORK_TESTS=1: not downloading Debian's kernel and busybox")
	}
	real.once.Do(func() {
		dir, err := os.MkdirTemp("", "voidbox-guestimage-real-")
		if err != nil {
			real.err = err
			return
		}
		real.cacheDir = filepath.Join(dir, "cache")
		real.agent = filepath.Join(dir, "agent")
		if real.err = os.WriteFile(real.agent, []byte("#!/bin/sh\necho agent stand-in\n"), 0o755); real.err != nil {
			return
		}
		// Two set-ups race on a cold cache: the lock must make one build and the other reuse.
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				real.first[i], errs[i] = Ensure(context.Background(), Options{CacheDir: real.cacheDir, GuestAgent: real.agent})
			})
		}
		wg.Wait()
		real.cold = time.Since(start)
		if real.err = errors.Join(errs...); real.err != nil {
			return
		}
		start = time.Now()
		real.warmArt, real.err = Ensure(context.Background(), Options{CacheDir: real.cacheDir, GuestAgent: real.agent, Packages: noNetwork{}})
		real.warm = time.Since(start)
	})
	if real.err != nil {
		t.Fatalf("real Ensure against Debian's archive (set VOIDBOX_SKIP_NETWORK_TESTS=1 to opt out): %v", real.err)
	}
	return real.warmArt
}

func TestMain(m *testing.M) {
	code := m.Run()
	if real.cacheDir != "" {
		os.RemoveAll(filepath.Dir(real.cacheDir))
	}
	os.Exit(code)
}
