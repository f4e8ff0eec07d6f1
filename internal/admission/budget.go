package admission

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/voidbox/voidbox/internal/bytesize"
)

// Environment variables that set the budgets (flags and HostOptions win).
const (
	BootSlotsEnv    = "VOIDBOX_BOOT_SLOTS"
	MemoryBudgetEnv = "VOIDBOX_MEMORY_BUDGET"
)

// Budget is what a host admits at once.
type Budget struct {
	// BootSlots is how many VMs may boot at once (≥ 1).
	BootSlots int
	// MemoryMiB bounds the sum of admitted VMs' charges (see Charge).
	MemoryMiB int64
}

// OverheadMiB is what a VM costs the host beyond its guest RAM: QEMU's own
// heap, TCG's translated code and the device state. Measured as QEMU's RSS
// minus the guest RAM it had touched, after the guest filled its memory:
// see docs/design.md ("Admission").
const OverheadMiB = 96

// Charge is the memory a VM with guestMiB of RAM is charged.
func Charge(guestMiB int) int64 { return int64(guestMiB) + OverheadMiB }

// HostInfo is what the default budget is computed from.
type HostInfo struct {
	Cores           int
	MemTotalMiB     int64
	MemAvailableMiB int64
}

// ReadHost reads the core count and /proc/meminfo.
func ReadHost() (HostInfo, error) {
	h := HostInfo{Cores: runtime.NumCPU()}
	total, avail, err := readMeminfo()
	if err != nil {
		return h, err
	}
	h.MemTotalMiB, h.MemAvailableMiB = total, avail
	return h, nil
}

// Options are explicit budgets (flags, HostOptions, daemon config); zero
// fields fall back to the environment, then to the defaults.
type Options struct {
	BootSlots int
	MemoryMiB int64
	// KVM: VMs boot with hardware virtualisation (lighter boots).
	KVM bool
}

// Resolve returns the budget for o on host h: o's fields, else
// $VOIDBOX_BOOT_SLOTS and $VOIDBOX_MEMORY_BUDGET (getenv), else defaults:
//
//   - boot slots: the core count under TCG, where a boot is CPU-bound on one
//     core (more slots only make every boot slower: docs/design.md); four
//     per core under KVM, where a boot mostly waits.
//   - memory: three quarters of host RAM, leaving the rest to the host and
//     to QEMU's page cache; a budget above host RAM is refused.
func Resolve(o Options, h HostInfo, getenv func(string) string) (Budget, error) {
	var errs []error
	b := Budget{BootSlots: o.BootSlots, MemoryMiB: o.MemoryMiB}
	if b.BootSlots == 0 {
		if v := getenv(BootSlotsEnv); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("$%s: %q is not a positive number", BootSlotsEnv, v))
			}
			b.BootSlots = n
		}
	}
	if b.MemoryMiB == 0 {
		if v := getenv(MemoryBudgetEnv); v != "" {
			n, err := bytesize.Parse(v)
			if err != nil || n < 1<<20 {
				errs = append(errs, fmt.Errorf("$%s: %q is not a size of at least 1M (e.g. 12G)", MemoryBudgetEnv, v))
			}
			b.MemoryMiB = n >> 20
		}
	}
	if b.BootSlots == 0 {
		b.BootSlots = max(h.Cores, 1)
		if o.KVM {
			b.BootSlots *= 4
		}
	}
	if b.MemoryMiB == 0 {
		b.MemoryMiB = h.MemTotalMiB * 3 / 4
	}
	if b.BootSlots < 0 {
		errs = append(errs, fmt.Errorf("boot slots: %d is negative", b.BootSlots))
	}
	if b.MemoryMiB < 0 {
		errs = append(errs, fmt.Errorf("memory budget: %d MiB is negative", b.MemoryMiB))
	}
	if h.MemTotalMiB > 0 && b.MemoryMiB > h.MemTotalMiB {
		errs = append(errs, fmt.Errorf("memory budget: %s is more than this host's RAM (%s)",
			formatMiB(b.MemoryMiB), formatMiB(h.MemTotalMiB)))
	}
	if err := errors.Join(errs...); err != nil {
		return Budget{}, err
	}
	if b.MemoryMiB == 0 {
		return Budget{}, errors.New("memory budget: host RAM unknown (no /proc/meminfo); set " + MemoryBudgetEnv)
	}
	return b, nil
}

// readMeminfo returns MemTotal and MemAvailable in MiB.
func readMeminfo() (total, avail int64, err error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		kb, perr := strconv.ParseInt(fields[0], 10, 64)
		if perr != nil {
			continue
		}
		switch k {
		case "MemTotal":
			total = kb >> 10
		case "MemAvailable":
			avail = kb >> 10
		}
	}
	if total == 0 {
		return 0, 0, errors.New("/proc/meminfo: no MemTotal")
	}
	return total, avail, sc.Err()
}

// formatMiB prints MiB as GiB with one decimal from 1 GiB up.
func formatMiB(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d MiB", n)
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/1024)
}
