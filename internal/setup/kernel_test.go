package setup

import (
	"errors"
	"strings"
	"testing"
)

// TestKernelChoice: the option wins over $VOIDBOX_KERNEL, generic is the
// default, and anything else is refused saying where it came from.
func TestKernelChoice(t *testing.T) {
	t.Setenv("VOIDBOX_KERNEL", "")
	if k, err := KernelChoice(""); err != nil || k != KernelGeneric {
		t.Errorf("default: %q, %v", k, err)
	}
	t.Setenv("VOIDBOX_KERNEL", "slim")
	if k, err := KernelChoice(""); err != nil || k != KernelSlim {
		t.Errorf("from the environment: %q, %v", k, err)
	}
	if k, err := KernelChoice("generic"); err != nil || k != KernelGeneric {
		t.Errorf("the option over the environment: %q, %v", k, err)
	}
	t.Setenv("VOIDBOX_KERNEL", "tiny")
	if _, err := KernelChoice(""); err == nil || !strings.Contains(err.Error(), `"tiny" (from $VOIDBOX_KERNEL)`) {
		t.Errorf("bad environment: %v", err)
	}
	if _, err := KernelChoice("Slim"); err == nil || !strings.Contains(err.Error(), "from the kernel option") {
		t.Errorf("bad option: %v", err)
	}
}

// TestLookupSlimKernelNotBuilt: asking for the slim kernel in a cache
// without it is a missing dependency that says how to build it, and
// Lookup (which builds nothing) refuses the same way.
func TestLookupSlimKernelNotBuilt(t *testing.T) {
	cache := t.TempDir()
	_, err := LookupSlimKernel(cache)
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "voidbox kernel build") {
		t.Fatalf("not built: %v", err)
	}
	t.Setenv("VOIDBOX_KERNEL", "slim")
	t.Setenv("VOIDBOX_QEMU", "/bin/true")
	t.Setenv("VOIDBOX_GUEST_INIT", "")
	if _, err := Lookup(t.Context(), Options{CacheDir: cache, GuestInit: "/bin/true"}); !errors.Is(err, ErrMissingDependency) ||
		!strings.Contains(err.Error(), "slim guest kernel") {
		t.Errorf("Lookup with the slim kernel missing: %v", err)
	}
}
