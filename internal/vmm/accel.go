package vmm

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Accel is a QEMU accelerator.
type Accel string

const (
	KVM Accel = "kvm"
	TCG Accel = "tcg"
)

// AccelChoice is the accelerator picked for this host and why.
type AccelChoice struct {
	Accel  Accel  `json:"accel"`
	Reason string `json:"reason"`
	// NeedsSmokeBoot is set when KVM looks usable but has not been proven by a
	// boot yet; the caller boots once and falls back to TCG if it fails.
	NeedsSmokeBoot bool `json:"-"`
}

// HostProbe is where ChooseAccel looks; tests point it at a fake tree.
type HostProbe struct {
	Root string // "" means "/"
}

func (p HostProbe) path(s string) string { return p.Root + s }

func (p HostProbe) exists(s string) bool {
	_, err := os.Stat(p.path(s))
	return err == nil
}

// ChooseAccel picks kvm only when the host has hardware-assisted KVM that is
// not PVM (stock guests crash under PVM, measured on our machines), else tcg.
// override is "kvm", "tcg", "auto" or "" (auto).
func (p HostProbe) ChooseAccel(override string) (AccelChoice, error) {
	switch override {
	case "kvm":
		return AccelChoice{Accel: KVM, Reason: "forced by override"}, nil
	case "tcg":
		return AccelChoice{Accel: TCG, Reason: "forced by override"}, nil
	case "", "auto":
	default:
		return AccelChoice{}, fmt.Errorf("accelerator %q: want kvm, tcg or auto", override)
	}
	switch {
	case !p.exists("/dev/kvm"):
		return AccelChoice{Accel: TCG, Reason: "no /dev/kvm on this host"}, nil
	case p.exists("/sys/module/kvm_pvm"):
		return AccelChoice{Accel: TCG, Reason: "host KVM is PVM (kvm_pvm loaded), which crashes stock guests"}, nil
	case !p.exists("/sys/module/kvm_intel") && !p.exists("/sys/module/kvm_amd"):
		return AccelChoice{Accel: TCG, Reason: "no hardware KVM module (kvm_intel/kvm_amd) loaded"}, nil
	}
	f, err := os.OpenFile(p.path("/dev/kvm"), os.O_RDWR, 0)
	if err != nil {
		return AccelChoice{Accel: TCG, Reason: fmt.Sprintf("/dev/kvm not usable: %v", err)}, nil
	}
	f.Close()
	return AccelChoice{Accel: KVM, Reason: "hardware-assisted KVM available", NeedsSmokeBoot: true}, nil
}

// TSCkHz returns the host TSC frequency in kHz from /proc/cpuinfo. Under TCG
// the guest reads the host TSC, and without tsc_early_khz about half of the
// boots on our machines hung in early calibration.
func (p HostProbe) TSCkHz() (int, error) {
	f, err := os.Open(p.path("/proc/cpuinfo"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok || strings.TrimSpace(k) != "cpu MHz" {
			continue
		}
		mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || mhz <= 0 {
			return 0, fmt.Errorf("parsing cpu MHz %q", v)
		}
		return int(math.Round(mhz * 1000)), nil
	}
	return 0, fmt.Errorf("no \"cpu MHz\" line in /proc/cpuinfo")
}
