package guestimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/deb"
	"github.com/voidbox/voidbox/internal/testgate"
)

// The real run downloads Debian's kernel and busybox once per test binary and is shared by every test
// that needs real files. It fails, not skips, when it cannot run, unless the developer opts out with
// VOIDBOX_SKIP_NETWORK_TESTS=1.
var shared struct {
	once       sync.Once
	cacheDir   string
	guestInit  string
	first      [2]*Artifacts
	cold, warm time.Duration
	warmArt    *Artifacts
	err        error
}

// noNetwork is a deb.Source that fails every call: a warm Ensure must not reach it.
type noNetwork struct{}

func (noNetwork) Show(_ context.Context, name string) (deb.Package, error) {
	return deb.Package{}, errors.New("warm Ensure asked apt about " + name)
}
func (noNetwork) Download(_ context.Context, name, _, _ string) (string, error) {
	return "", errors.New("warm Ensure downloaded " + name)
}

// realModules is the default set plus ext4, whose softdep on crc32c the
// real-image test checks.
func realModules() ModuleSet {
	d := DefaultModules()
	return ModuleSet{Boot: d.Boot, OnDemand: append(d.OnDemand, "ext4", "overlay")}
}

func realArtifacts(t *testing.T) *Artifacts {
	t.Helper()
	testgate.Skip(t, testgate.SkipNetwork, "Debian's kernel and busybox")
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "voidbox-guestimage-real-")
		if err != nil {
			shared.err = err
			return
		}
		shared.cacheDir = filepath.Join(dir, "cache")
		shared.guestInit = filepath.Join(dir, "agent")
		if shared.err = os.WriteFile(shared.guestInit, []byte("#!/bin/sh\necho agent stand-in\n"), 0o755); shared.err != nil {
			return
		}
		// Two set-ups race on a cold cache: the lock must make one build and the other reuse.
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				shared.first[i], errs[i] = Ensure(context.Background(), Options{CacheDir: shared.cacheDir, GuestInit: shared.guestInit, Modules: realModules()})
			})
		}
		wg.Wait()
		shared.cold = time.Since(start)
		if shared.err = errors.Join(errs...); shared.err != nil {
			return
		}
		start = time.Now()
		shared.warmArt, shared.err = Ensure(context.Background(), Options{CacheDir: shared.cacheDir, GuestInit: shared.guestInit, Packages: noNetwork{}, Modules: realModules()})
		shared.warm = time.Since(start)
	})
	if shared.err != nil {
		t.Fatalf("real Ensure against Debian's archive (set VOIDBOX_SKIP_NETWORK_TESTS=1 to opt out): %v", shared.err)
	}
	return shared.warmArt
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cacheDir != "" {
		os.RemoveAll(filepath.Dir(shared.cacheDir))
	}
	os.Exit(code)
}
