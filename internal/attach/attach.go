// Package attach lets a second voidbox process join a stage's running VM:
// follow the stage's events (output, agent activity, VM stats) read-only,
// or — when the box's policy allows it (policy.Sandbox.AttachShell) — open
// a shell on a guest terminal.
//
// The process that booted a VM owns its control channel, so that process
// serves attach: a unix socket, attach.sock, next to the VM's other
// sockets in its private runtime directory (0700, the socket 0600), with
// attach.json saying which run, stage and attempt the VM is. Only the same
// user (or root) can reach it, and the server checks the peer's uid too.
//
// Protocol: the client sends one JSON line (Request) and reads one JSON
// line back (Reply). A follow then receives events as JSON lines
// (docs/events.md), the attempt's history first, until the attempt ends;
// a shell then speaks the exec frames of internal/wire (TStdin, TResize
// and TSignal in; TStdout and one TExecExit out).
package attach

import "time"

// File names in a VM's runtime directory.
const (
	SocketName = "attach.sock"
	InfoName   = "attach.json"
)

// Info describes an attachable VM.
type Info struct {
	Run      string    `json:"run"`
	Stage    string    `json:"stage"`
	Attempt  int       `json:"attempt"`
	OwnerPID int       `json:"owner_pid"` // the voidbox process serving the socket
	Shell    bool      `json:"shell"`     // the policy allows a shell
	Started  time.Time `json:"started"`
}

// Modes of a Request.
const (
	ModeFollow = "follow"
	ModeShell  = "shell"
)

// Request is the client's first line.
type Request struct {
	Mode string `json:"mode"`
	Rows uint16 `json:"rows,omitempty"` // shell: the terminal's size
	Cols uint16 `json:"cols,omitempty"`
	Term string `json:"term,omitempty"`
}

// Reply answers a Request; after an OK the mode's stream follows.
type Reply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// maxLine bounds the request and reply lines.
const maxLine = 4096
