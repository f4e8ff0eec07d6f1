package guestimage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheRootPrecedence(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("VOIDBOX_CACHE_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "")
	cases := []struct {
		dir, env, xdg, want string
	}{
		{"", "", "", filepath.Join(home, ".cache", "voidbox")},
		{"", "", "/xdg", "/xdg/voidbox"},
		{"", "/env/cache", "/xdg", "/env/cache"},
		{"/explicit", "/env/cache", "/xdg", "/explicit"},
	}
	for _, c := range cases {
		t.Setenv("VOIDBOX_CACHE_DIR", c.env)
		t.Setenv("XDG_CACHE_HOME", c.xdg)
		got, err := CacheRoot(c.dir)
		if err != nil || got != c.want {
			t.Errorf("CacheRoot(%q) with env %q xdg %q = %q, %v; want %q", c.dir, c.env, c.xdg, got, err, c.want)
		}
	}
}

func TestUnwritableCacheDir(t *testing.T) {
	arch := newTestArchive(t)
	// A regular file where a directory should be defeats root too.
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	assertCacheUnusable(t, arch, filepath.Join(blocker, "cache"))
}

// assertCacheUnusable: Ensure with cache dir fails in one line that names the
// dir and the fix, before any download starts.
func assertCacheUnusable(t *testing.T, arch *testArchive, dir string) {
	t.Helper()
	o := arch.options()
	o.CacheDir = dir
	_, err := Ensure(context.Background(), o)
	if !errors.Is(err, ErrCacheUnusable) {
		t.Fatalf("cache %s: err = %v, want ErrCacheUnusable", dir, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, dir) || !strings.Contains(msg, "VOIDBOX_CACHE_DIR") || strings.Count(msg, "\n") != 0 {
		t.Errorf("cache %s: message should name the dir and the fix in one line: %q", dir, msg)
	}
	if arch.src.totalDownloads() != 0 {
		t.Error("downloads started before the cache was found unusable")
	}
}
