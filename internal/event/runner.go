package event

import "strings"

// Events of a stage's attempt: its VM and its command.
const (
	TypeVMBooted   Type = "vm.booted"
	TypeExecOutput Type = "exec.output"
	TypeExecDenied Type = "exec.denied"
)

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

func (VMBooted) EventType() Type   { return TypeVMBooted }
func (ExecOutput) EventType() Type { return TypeExecOutput }
func (ExecDenied) EventType() Type { return TypeExecDenied }
