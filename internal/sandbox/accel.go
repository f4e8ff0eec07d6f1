package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/vmm"
)

// ChooseAccel decides the accelerator for VMs booted like base (its QEMU,
// kernel and initramfs): want ("kvm", "tcg", "auto" or "") as the host
// probe allows, and KVM only once a smoke boot passed — some hosts offer a
// /dev/kvm on which stock guests crash (PVM, nested set-ups). The smoke
// verdict is cached in verdictDir per QEMU binary and guest image, so only
// the first sandbox pays. It also returns the TSC frequency TCG needs.
func ChooseAccel(ctx context.Context, probe vmm.HostProbe, want string, base Config, verdictDir string) (vmm.AccelChoice, int, error) {
	choice, err := probe.ChooseAccel(want)
	if err != nil {
		return vmm.AccelChoice{}, 0, err
	}
	tsc, _ := probe.TSCkHz()
	if choice.NeedsSmokeBoot {
		choice = smokeTestKVM(ctx, choice, base, verdictDir)
	}
	return choice, tsc, nil
}

func smokeTestKVM(ctx context.Context, choice vmm.AccelChoice, base Config, verdictDir string) vmm.AccelChoice {
	if verdictDir == "" {
		return vmm.AccelChoice{Accel: vmm.TCG, Reason: "KVM not verified (no cache for the smoke-boot verdict)"}
	}
	sum := sha256.Sum256([]byte(base.QEMU + "\x00" + base.Kernel + "\x00" + base.Initramfs))
	verdictFile := filepath.Join(verdictDir, hex.EncodeToString(sum[:8])+".json")
	var v vmm.AccelChoice
	if b, err := os.ReadFile(verdictFile); err == nil && json.Unmarshal(b, &v) == nil && v.Accel != "" {
		return v
	}
	smoke := Config{Name: "kvm-smoke", QEMU: base.QEMU, Kernel: base.Kernel, Initramfs: base.Initramfs,
		Accel: vmm.AccelChoice{Accel: vmm.KVM}, BootTimeout: 30 * time.Second, Logger: base.Logger, Confine: base.Confine}
	sb, err := Boot(ctx, smoke)
	if err == nil {
		err = sb.Ping(ctx)
		sb.Close()
	}
	if ctx.Err() != nil {
		// Interrupted, not a verdict: use TCG this time, decide next time.
		return vmm.AccelChoice{Accel: vmm.TCG, Reason: "KVM smoke boot interrupted"}
	}
	if err == nil {
		v = vmm.AccelChoice{Accel: vmm.KVM, Reason: choice.Reason + "; smoke boot passed"}
	} else {
		first, _, _ := strings.Cut(err.Error(), "\n")
		v = vmm.AccelChoice{Accel: vmm.TCG, Reason: "KVM smoke boot failed (" + first + "), using TCG"}
	}
	if b, err := json.Marshal(v); err == nil && os.MkdirAll(verdictDir, 0o755) == nil {
		_ = os.WriteFile(verdictFile, b, 0o644)
	}
	return v
}
