package admission

import (
	"errors"
	"fmt"
)

// ErrTooLarge is matched (errors.Is) by a request that can never be
// admitted: it is larger than the whole memory budget.
var ErrTooLarge = errors.New("larger than the host's VM memory budget")

// TooLargeError is a request refused at once, with the numbers.
type TooLargeError struct {
	ChargeMiB int64 // what the VM would be charged (guest RAM + OverheadMiB)
	BudgetMiB int64 // the whole memory budget
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("a VM charged %s (its memory plus %d MiB for QEMU) can never fit this host's VM memory budget of %s "+
		"(set by $%s; default three quarters of RAM)", formatMiB(e.ChargeMiB), OverheadMiB, formatMiB(e.BudgetMiB), MemoryBudgetEnv)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Reasons a request waits (Status.Reason).
const (
	WaitQueue      = "queue"       // older requests are ahead
	WaitBoot       = "boot slot"   // every boot slot is taken
	WaitMemory     = "memory"      // the memory budget is taken
	WaitHostMemory = "host memory" // the host itself is short of memory
)

// Status is a waiting request's view of the queue.
type Status struct {
	Ahead            int    // live requests ahead of this one
	Booting          int    // VMs booting now
	BootSlots        int    // of the budget
	MemoryInUseMiB   int64  // charged to admitted VMs now
	MemoryBudgetMiB  int64  // the whole budget
	MemoryMiB        int64  // this request's charge
	HostAvailableMiB int64  // the host's MemAvailable, when Reason is WaitHostMemory
	Reason           string // WaitQueue, WaitBoot, WaitMemory or WaitHostMemory
}

// String is the status for a person: "12 ahead, 3.1 GiB of 18.0 GiB in use".
func (s Status) String() string {
	out := fmt.Sprintf("%d ahead, %s of %s in use", s.Ahead, formatMiB(s.MemoryInUseMiB), formatMiB(s.MemoryBudgetMiB))
	switch s.Reason {
	case WaitBoot:
		out += fmt.Sprintf(", %d of %d boot slots busy", s.Booting, s.BootSlots)
	case WaitMemory:
		out += fmt.Sprintf(", this VM needs %s", formatMiB(s.MemoryMiB))
	case WaitHostMemory:
		out += fmt.Sprintf(", host has %s available, this VM needs %s", formatMiB(s.HostAvailableMiB), formatMiB(s.MemoryMiB))
	}
	return out
}
