// Package event defines the progress events the built-in agent emits, one
// JSON object per line, and a decoder the host uses to read them back.
//
// It depends on the standard library only, so the host can parse the stream
// without linking the agent's model and MCP clients. Every line comes from
// the guest and is therefore untrusted: Decode caps sizes and rejects
// unknown event types instead of guessing.
package event

import (
	"errors"
	"time"
)

// Event types. The strings are part of the host↔agent contract.
const (
	TypeStarted  = "agent.started"
	TypeTurn     = "agent.turn"
	TypeToolCall = "agent.tool_call"
	TypeDenied   = "agent.denied"
	TypeFinished = "agent.finished"
)

// ErrMalformed reports a line that is not a valid agent event.
var ErrMalformed = errors.New("malformed agent event")

// Header is common to every event.
type Header struct {
	Type string    `json:"type"`
	Time time.Time `json:"time"`
}

// Started is emitted once the model client and every tool are ready.
type Started struct {
	Header
	Provider string   `json:"provider"`
	Model    string   `json:"model"`
	Tools    []string `json:"tools"`
}

// Turn is emitted after each model response.
type Turn struct {
	Header
	Turn         int    `json:"turn"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	StopReason   string `json:"stop_reason"`
}

// ToolCall is emitted after each tool call finished. ExitCode is set for
// the bash tool only; Denied says that the policy refused at least one
// command of it.
type ToolCall struct {
	Header
	Turn       int    `json:"turn"`
	Name       string `json:"name"`
	DurationMs int64  `json:"duration_ms"`
	ExitCode   *int   `json:"exit_code,omitempty"`
	Error      string `json:"error,omitempty"`
	Denied     bool   `json:"denied,omitempty"`
}

// Denied is emitted for every command the allowed_commands policy refused.
type Denied struct {
	Header
	Command string `json:"command"`
	Reason  string `json:"reason"`
}

// Finished is the last event of a run, emitted on success and on failure.
// FinalText is truncated to MaxFinalText bytes.
type Finished struct {
	Header
	Turns        int    `json:"turns"`
	ToolCalls    int    `json:"tool_calls"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	FinalText    string `json:"final_text"`
	OutputFile   string `json:"output_file,omitempty"`
	Error        string `json:"error,omitempty"`
}

// Size limits on what an event carries.
const (
	// MaxFinalText caps Finished.FinalText.
	MaxFinalText = 4 << 10
	// MaxField caps the other free-text fields (commands, errors, reasons).
	MaxField = 1 << 10
	// MaxLine caps one encoded event; Decode rejects longer lines.
	MaxLine = 64 << 10
)
