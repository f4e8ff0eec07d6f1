package apiv1

import (
	"encoding/json"
	"time"
)

// CreateSandbox is the body of POST /v1/sandboxes.
type CreateSandbox struct {
	Name string `json:"name,omitempty"`
	// Policy is a policy.Sandbox in its JSON form (spec field names); it is
	// decoded and validated as such, and its problems name policy.FIELD.
	Policy json.RawMessage `json:"policy,omitempty"`
	// IdleTimeout closes the sandbox after this long without a request
	// ("10m"); empty: the daemon's default.
	IdleTimeout string `json:"idle_timeout,omitempty"`
}

// Sandbox is an interactive sandbox.
type Sandbox struct {
	ID          string          `json:"id"`
	Name        string          `json:"name,omitempty"`
	Policy      json.RawMessage `json:"policy"`
	IdleTimeout string          `json:"idle_timeout"`
	CreatedAt   time.Time       `json:"created_at"`
	LastUsedAt  time.Time       `json:"last_used_at"`
	Kernel      string          `json:"kernel,omitempty"`
	Accel       string          `json:"accel,omitempty"`
	BootMS      float64         `json:"boot_ms,omitempty"`
}

// SandboxList is GET /v1/sandboxes.
type SandboxList struct {
	Sandboxes []Sandbox `json:"sandboxes"`
}

// Exec is the body of POST /v1/sandboxes/{id}/exec.
type Exec struct {
	Args []string          `json:"args"`
	Env  map[string]string `json:"env,omitempty"`
	Dir  string            `json:"dir,omitempty"`
	// Stdin is fed to the command (base64 in JSON); nil: /dev/null.
	Stdin []byte `json:"stdin,omitempty"`
	// Timeout overrides the policy's command timeout ("30s"; "-1s": none).
	Timeout string `json:"timeout,omitempty"`
}

// ExecFrame is one line of an exec's streamed answer (application/x-ndjson):
// output chunks as they come (base64 in JSON), then one Exit line. A line
// with Error instead of Exit ends a command the sandbox could not run to an
// end (the VM stopped, the request timed out).
type ExecFrame struct {
	Stdout []byte       `json:"stdout,omitempty"`
	Stderr []byte       `json:"stderr,omitempty"`
	Exit   *ExecResult  `json:"exit,omitempty"`
	Error  *ErrorDetail `json:"error,omitempty"`
}

// ExecResult is how the command ended.
type ExecResult struct {
	ExitCode      int     `json:"exit_code"`
	TimedOut      bool    `json:"timed_out,omitempty"`
	OOMKilled     bool    `json:"oom_killed,omitempty"`
	Reason        string  `json:"reason,omitempty"`
	Error         string  `json:"error,omitempty"` // why it could not run (not found, not allowed)
	DurationMS    float64 `json:"duration_ms"`
	StdoutDropped int64   `json:"stdout_dropped_bytes,omitempty"`
	StderrDropped int64   `json:"stderr_dropped_bytes,omitempty"`
}
