package setup

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/slimkernel"
)

// The guest kernels set-up can prepare.
const (
	// KernelGeneric is Debian's linux-image (modules loaded at boot): the default.
	KernelGeneric = "generic"
	// KernelSlim is voidbox's own build from linux-source-6.1, everything built in.
	KernelSlim = "slim"
)

// KernelChoice is the guest kernel asked for: want, else $VOIDBOX_KERNEL,
// else generic. Anything else is an error that says where it came from.
func KernelChoice(want string) (string, error) {
	from := "the kernel option"
	if want == "" {
		want, from = os.Getenv(slimkernel.KernelEnv), "$"+slimkernel.KernelEnv
	}
	switch want {
	case "", KernelGeneric:
		return KernelGeneric, nil
	case KernelSlim:
		return KernelSlim, nil
	}
	return "", fmt.Errorf("guest kernel %q (from %s): want %s or %s", want, from, KernelGeneric, KernelSlim)
}

// SlimOptions configures EnsureSlimKernel.
type SlimOptions struct {
	CacheDir string
	Progress io.Writer
	Jobs     int  // make -j; 0: every CPU
	Force    bool // build again even when cached
}

// EnsureSlimKernel returns the slim kernel, building it when the cache has
// none of the installed source: its build tools are installed first as
// root on Debian; otherwise missing ones are a *MissingDependencyError
// naming the packages.
func EnsureSlimKernel(ctx context.Context, o SlimOptions) (*slimkernel.Kernel, error) {
	root, err := guestimage.CacheRoot(o.CacheDir)
	if err != nil {
		return nil, err
	}
	if miss := slimkernel.MissingPackages(); len(miss) > 0 {
		h := realHost()
		if !h.root || !h.debian {
			return nil, &MissingDependencyError{What: "the slim kernel's build tools", Package: strings.Join(miss, " "),
				Hint: "install them with `apt-get install --no-install-recommends " + strings.Join(miss, " ") + "`"}
		}
		if err := aptInstall(ctx, o.Progress, h, miss...); err != nil {
			return nil, fmt.Errorf("installing %s: %w", strings.Join(miss, " "), err)
		}
	}
	return slimkernel.Build(ctx, slimkernel.Options{Root: root, Progress: o.Progress, Jobs: o.Jobs, Force: o.Force})
}

// LookupSlimKernel returns the built slim kernel, or a
// *MissingDependencyError saying how to build it.
func LookupSlimKernel(cacheDir string) (*slimkernel.Kernel, error) {
	root, err := guestimage.CacheRoot(cacheDir)
	if err != nil {
		return nil, err
	}
	k, err := slimkernel.Lookup(root)
	if err != nil {
		return nil, &MissingDependencyError{What: "the slim guest kernel", Err: err,
			Hint: "it is asked for (" + slimkernel.KernelEnv + "=slim or --kernel slim) but not built: run `voidbox kernel build` or `voidbox setup --kernel slim`"}
	}
	return k, nil
}

func prebuilt(k *slimkernel.Kernel) *guestimage.PrebuiltKernel {
	return &guestimage.PrebuiltKernel{Vmlinux: k.Vmlinux, Release: k.Release, ID: k.ID()}
}
