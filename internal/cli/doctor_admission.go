package cli

import (
	"fmt"
	"os"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/admission"
	"github.com/voidbox/voidbox/internal/vmm"
)

// admissionCheck reports the host's VM budgets and what holds them now.
func admissionCheck(accel vmm.Accel, host voidbox.HostOptions) check {
	c := check{Name: "vm-budget"}
	h, err := admission.ReadHost()
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	b, err := admission.Resolve(admission.Options{BootSlots: host.BootSlots, MemoryMiB: int64(host.MemoryBudgetMiB), KVM: accel == vmm.KVM}, h, os.Getenv)
	if err != nil {
		c.Detail, c.Fix = err.Error(), "fix $"+admission.BootSlotsEnv+" / $"+admission.MemoryBudgetEnv
		return c
	}
	c.Detail = fmt.Sprintf("%d boot slots, %s for VMs (of %s RAM, %s available); a VM is charged its memory + %d MiB",
		b.BootSlots, gib(b.MemoryMiB), gib(h.MemTotalMiB), gib(h.MemAvailableMiB), admission.OverheadMiB)
	g, err := admission.New(admission.DefaultDir(), b)
	if err != nil {
		c.Detail += "; " + err.Error()
		return c
	}
	u, err := g.Usage()
	if err != nil {
		c.Detail += "; " + err.Error()
		return c
	}
	c.OK = true
	c.Detail += fmt.Sprintf("; now %d booting, %d running (%s), %d waiting", u.Booting, u.Running, gib(u.MemoryInUseMiB), u.Waiting)
	return c
}

func gib(mib int64) string {
	if mib < 1024 {
		return fmt.Sprintf("%d MiB", mib)
	}
	return fmt.Sprintf("%.1f GiB", float64(mib)/1024)
}
