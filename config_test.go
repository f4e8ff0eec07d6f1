package voidbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	err := Config{MemoryMiB: 1, CPUs: -1, Timeout: -1, Accel: "xen", Env: map[string]string{"A=B": "x"},
		AllowedCommands: []string{"/bin/sh"}}.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	for _, want := range []string{"memory", "cpus", "timeout", "accel", "env", "allowed commands"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestNewMissingKernel(t *testing.T) {
	_, err := New(context.Background(), Config{Image: Image{Kernel: "/nonexistent/vmlinux"}, QEMU: "/bin/true"})
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "/nonexistent/vmlinux") {
		t.Fatalf("got %v", err)
	}
}

func TestNewMissingQEMU(t *testing.T) {
	k := filepath.Join(t.TempDir(), "vmlinux")
	os.WriteFile(k, []byte("x"), 0o644)
	t.Setenv("VOIDBOX_QEMU", "/nonexistent/qemu-system-x86_64")
	_, err := New(context.Background(), Config{Image: Image{Kernel: k}})
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "qemu") {
		t.Fatalf("got %v", err)
	}
}

func TestSetupUnwritableCache(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	_, err := Setup(context.Background(), SetupOptions{CacheDir: filepath.Join(f, "cache")})
	if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "VOIDBOX_CACHE_DIR") {
		t.Fatalf("want an error naming the cache dir, got %v", err)
	}
}
