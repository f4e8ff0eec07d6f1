package progress

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/voidbox/voidbox/internal/event"
)

// stateWaiting is a stage whose VM waits for a host-wide slot.
const stateWaiting = "waiting"

// QueueText says why a VM waits, for a person: "waiting for a VM slot:
// 12 ahead, 3.1 GiB of 18 GiB in use".
func QueueText(q event.VMQueued) string {
	s := fmt.Sprintf("waiting for a VM slot: %d ahead, %s of %s in use", q.Ahead, gib(q.MemoryInUseMiB), gib(q.MemoryBudgetMiB))
	switch q.Reason {
	case "boot slot":
		s += fmt.Sprintf(", %d/%d booting", q.Booting, q.BootSlots)
	case "memory":
		s += fmt.Sprintf(", this VM needs %s", gib(q.MemoryMiB))
	case "host memory":
		s += fmt.Sprintf(", the host is short of memory for this VM's %s", gib(q.MemoryMiB))
	}
	return s
}

// gib prints MiB as GiB with one decimal ("3.1 GiB", "18 GiB"), MiB below 1 GiB.
func gib(mib int64) string {
	if mib < 1024 {
		return strconv.FormatInt(mib, 10) + " MiB"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(mib)/1024), ".0") + " GiB"
}
