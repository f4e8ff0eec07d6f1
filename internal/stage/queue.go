package stage

import (
	"time"

	"github.com/voidbox/voidbox/internal/admission"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// withQueueEvents makes cfg's boot report its wait for a host-wide VM slot
// as vm.queued and vm.admitted events.
func withQueueEvents(cfg sandbox.Config, emit func(event.Data)) sandbox.Config {
	cfg.OnQueued = func(st admission.Status) { emit(QueuedEvent(st)) }
	cfg.OnAdmitted = func(waited time.Duration) { emit(event.VMAdmitted{WaitMS: waited.Milliseconds()}) }
	return cfg
}

// QueuedEvent is the vm.queued payload of a queue status.
func QueuedEvent(st admission.Status) event.VMQueued {
	return event.VMQueued{Ahead: st.Ahead, Booting: st.Booting, BootSlots: st.BootSlots,
		MemoryInUseMiB: st.MemoryInUseMiB, MemoryBudgetMiB: st.MemoryBudgetMiB, MemoryMiB: st.MemoryMiB, Reason: st.Reason}
}
