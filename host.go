package voidbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/voidbox/voidbox/internal/vmm"
)

// prepareHost resolves QEMU, the guest image and the accelerator.
func prepareHost(ctx context.Context, cfg Config) (hostEnv, error) {
	var env hostEnv
	q := os.Getenv("VOIDBOX_QEMU")
	if q == "" {
		q = "qemu-system-x86_64"
	}
	p, err := exec.LookPath(q)
	if err != nil {
		return env, fmt.Errorf("%w: %s not found: install the qemu-system-x86 package (apt-get install qemu-system-x86) or run `voidbox setup`", ErrMissingDependency, q)
	}
	env.qemu = p
	env.image = cfg.Image
	if env.image.Kernel == "" {
		env.image.Kernel = os.Getenv("VOIDBOX_KERNEL")
		env.image.Initramfs = os.Getenv("VOIDBOX_INITRAMFS")
	}
	if env.image.Kernel == "" {
		return env, fmt.Errorf("%w: no guest kernel: run `voidbox setup`", ErrMissingDependency)
	}
	for _, f := range []string{env.image.Kernel, env.image.Initramfs} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return env, fmt.Errorf("%w: guest image: %w", ErrMissingDependency, err)
		}
	}
	probe := vmm.HostProbe{}
	env.accel, err = probe.ChooseAccel(cfg.Accel)
	if err != nil {
		return env, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if env.accel.Accel == vmm.TCG {
		env.tscKHz, _ = probe.TSCkHz()
	}
	return env, nil
}
