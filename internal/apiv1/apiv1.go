// Package apiv1 is the wire format of the daemon's /v1 API: the JSON bodies
// the server writes and the client reads, and the error codes. The routes
// and their documentation are in internal/daemon/openapi.yaml; the server
// (internal/daemon) and the Go client (internal/client) both use these
// types, so the two cannot drift apart.
//
// Field names are stable: add fields, never rename them.
package apiv1

import (
	"encoding/json"
	"time"
)

// Version is the API version in every path (/v1/...).
const Version = "v1"

// Run is a submitted run.
type Run struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`   // agent, pipeline or workflow
	Status string `json:"status"` // queued, running, succeeded, failed, cancelled
	// IdempotencyKey is the Idempotency-Key the run was created with.
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	StartedAt      time.Time `json:"started_at,omitzero"`
	FinishedAt     time.Time `json:"finished_at,omitzero"`
	Error          string    `json:"error,omitempty"`
	// LastEventID is the id of the run's newest event (0: none yet).
	LastEventID uint64 `json:"last_event_id"`
	// Stages and Report are in the answers about one run, not in lists.
	Stages []Stage `json:"stages,omitempty"`
	// Report is the run's report (docs/events.md § Report) once it ended.
	Report json.RawMessage `json:"report,omitempty"`
}

// Stage is the live state of one stage of a run.
type Stage struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"` // pending, queued, running, succeeded, failed, skipped, cancelled
	Attempts   int       `json:"attempts"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	ExitCode   *int      `json:"exit_code,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// RunList is a page of runs, newest first. Next is the cursor of the next
// page; empty on the last.
type RunList struct {
	Runs []Run  `json:"runs"`
	Next string `json:"next,omitempty"`
}

// CreateRun is the body of POST /v1/runs (Content-Type application/json).
// The Idempotency-Key header makes a retried POST return the run the first
// one created.
type CreateRun struct {
	// Spec is the spec's text, YAML or JSON, as in a spec file.
	Spec string `json:"spec"`
	// SpecName names the spec in error positions and decides its syntax as
	// a file name would (.yaml, .yml, .json; otherwise sniffed). Only its
	// base name is used. Default "spec".
	SpecName string `json:"spec_name,omitempty"`
	// Input is handed to the first stage(s); InputBase64 is the same for
	// bytes that are not UTF-8 text. At most one of the two.
	Input       string `json:"input,omitempty"`
	InputBase64 []byte `json:"input_base64,omitempty"`
}

// Event is one entry of the JSON page form of a run's events. Event is the
// event in its JSON form (docs/events.md), as SSE data carries it too.
type Event struct {
	ID    uint64          `json:"id"`
	Event json.RawMessage `json:"event"`
}

// EventPage is GET /v1/runs/{id}/events with Accept: application/json.
// Done says the run has ended and Events reach its last event; otherwise
// ask again with after = the last id.
type EventPage struct {
	Events []Event `json:"events"`
	Done   bool    `json:"done"`
}

// Output describes one stored stage output.
type Output struct {
	Stage string `json:"stage"`
	Size  int64  `json:"size"`
}

// OutputList is GET /v1/runs/{id}/outputs.
type OutputList struct {
	Outputs []Output `json:"outputs"`
}

// Health is GET /v1/health.
type Health struct {
	Status      string `json:"status"` // "ok", or "draining" while shutting down
	Store       string `json:"store"`  // sqlite, fs or valkey
	VMsRunning  int    `json:"vms_running"`
	MaxVMs      int    `json:"max_vms"`
	RunsQueued  int    `json:"runs_queued"`
	RunsRunning int    `json:"runs_running"`
	MaxQueued   int    `json:"max_queued"`
	Sandboxes   int    `json:"sandboxes"`
}

// VersionInfo is GET /v1/version.
type VersionInfo struct {
	Version string `json:"version"` // voidbox's build
	API     string `json:"api"`     // "v1"
	Go      string `json:"go"`
}

// ErrorBody is every error answer: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an error: a stable code, a message for people, and the
// request part at fault (a JSON field path, a query parameter, a header).
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Error codes beyond the server shell's (invalid_request, unauthorized,
// not_found, method_not_allowed, payload_too_large, unsupported_media_type,
// request_timeout, internal).
const (
	// CodeInvalidSpec: the spec has problems; the message lists each with
	// its line:col.
	CodeInvalidSpec = "invalid_spec"
	// CodeInvalidPolicy: a sandbox policy field is out of bounds.
	CodeInvalidPolicy = "invalid_policy"
	// CodeConflict: the request contradicts the state (an idempotency key
	// reused for another run, deleting a run in flight).
	CodeConflict = "conflict"
	// CodeLimit: a server limit is reached (max queued runs, max VMs); the
	// message says which. Status 429 with Retry-After.
	CodeLimit = "limit_reached"
	// CodeUnavailable: the daemon is shutting down.
	CodeUnavailable = "unavailable"
)
