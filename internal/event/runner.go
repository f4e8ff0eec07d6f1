package event

import "strings"

// Events of a stage's attempt: its VM and its command.
const (
	TypeVMQueued   Type = "vm.queued"
	TypeVMAdmitted Type = "vm.admitted"
	TypeVMBooted   Type = "vm.booted"
	TypeExecOutput Type = "exec.output"
	TypeExecDenied Type = "exec.denied"
	TypeVMStats    Type = "vm.stats"
)

// VMQueued: the attempt's VM waits for a host-wide slot (a boot slot and
// its memory, shared by every voidbox process of the user). Sent when the
// wait begins and then at most once a second while the queue moves.
type VMQueued struct {
	Ahead           int    `json:"ahead"`             // VMs queued before this one
	Booting         int    `json:"booting"`           // VMs booting now
	BootSlots       int    `json:"boot_slots"`        // the host's boot budget
	MemoryInUseMiB  int64  `json:"memory_in_use_mib"` // charged to running VMs
	MemoryBudgetMiB int64  `json:"memory_budget_mib"` // the host's memory budget
	MemoryMiB       int64  `json:"memory_mib"`        // this VM's charge (guest RAM + QEMU)
	Reason          string `json:"reason"`            // queue, boot slot, memory or host memory
}

// VMAdmitted: the VM waited and now has its slot; its boot starts.
type VMAdmitted struct {
	WaitMS int64 `json:"wait_ms"`
}

// VMBooted: the attempt's VM answered the handshake.
type VMBooted struct {
	BootMS float64 `json:"boot_ms"`
	Kernel string  `json:"kernel"` // guest uname -r
	Accel  string  `json:"accel"`  // kvm or tcg
}

// ExecOutput is a chunk of a command stage's stdout or stderr (not
// necessarily whole lines).
type ExecOutput struct {
	Stream string `json:"stream"` // stdout or stderr
	Data   string `json:"data"`
}

// NewExecOutput builds an ExecOutput for a chunk of output. The data is
// carried as text so the JSON stays readable; bytes that are not valid
// UTF-8 become U+FFFD, which is fine for a live view (the stage's real
// output travels in the stage's result, not in events).
func NewExecOutput(stream string, data []byte) ExecOutput {
	return ExecOutput{Stream: stream, Data: strings.ToValidUTF8(string(data), "\uFFFD")}
}

// ExecDenied is a program the guest kernel's exec check refused to the
// stage's command or to a process it started (allowed_commands): the exec
// failed with EACCES, or a busybox applet run without an exec was killed.
// Reported when the command ends; the text is the guest's, for display.
type ExecDenied struct {
	PID     int    `json:"pid,omitempty"` // in the guest
	Program string `json:"program"`       // the name checked: a program or a busybox applet
	Path    string `json:"path,omitempty"`
	Reason  string `json:"reason"`
	Killed  bool   `json:"killed,omitempty"` // the process was killed rather than refused an exec
}

func (VMQueued) EventType() Type   { return TypeVMQueued }
func (VMAdmitted) EventType() Type { return TypeVMAdmitted }

// VMStats samples the attempt's VM as the host sees it: the QEMU process's
// resident memory and CPU time, read from /proc on the host (never from the
// guest, so a guest cannot make up its own numbers). Sent about once a
// second while the VM runs.
type VMStats struct {
	// MemoryMB is the guest memory the policy gave the VM.
	MemoryMB int `json:"memory_mb"`
	// RSSBytes is QEMU's resident set: the guest memory actually touched
	// plus QEMU's own.
	RSSBytes int64 `json:"rss_bytes"`
	// CPUMS is QEMU's user+system CPU time since it started (all vCPU and
	// emulation threads).
	CPUMS int64 `json:"cpu_ms"`
	// CPUPercent is CPUMS's growth over the last sample's wall time, in
	// percent of one host core (200 = two cores busy).
	CPUPercent float64 `json:"cpu_percent"`
}

func (VMBooted) EventType() Type   { return TypeVMBooted }
func (VMStats) EventType() Type    { return TypeVMStats }
func (ExecOutput) EventType() Type { return TypeExecOutput }
func (ExecDenied) EventType() Type { return TypeExecDenied }
