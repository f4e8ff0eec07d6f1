package streamjson

import "github.com/voidbox/voidbox/internal/event"

// Result is what claude-code reported about a run, including what the
// agent event model has no field for. Every value comes from the guest: it
// is informational, and the host-side LLM gateway's own accounting is the
// one to trust for tokens and cost.
type Result struct {
	// Finished is a copy of the agent.finished event that ended the stream.
	Finished event.AgentFinished

	// From the init line.
	Model     string   // the model claude-code was asked to use
	Version   string   // claude-code's version
	SessionID string   // claude-code's session id
	Tools     []string // built-in and MCP tools offered to the model
	Skills    []string // skills claude-code found (user skills by directory name)

	// From the result line (zero when the stream had none).
	NumTurns         int     // claude-code's own turn count (Finished.Turns counts the responses seen)
	CostUSD          float64 // claude-code's own estimate, at list prices
	DurationMS       int64
	APIDurationMS    int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	Subtype          string // "success", "error_max_turns", "error_during_execution", …
	TerminalReason   string // "completed", "max_turns", "api_error", …
	APIErrorStatus   int    // HTTP status of the API error that ended the run, if any
	Denials          int    // permission denials claude-code listed

	// Stream health.
	GotResult  bool // the result line arrived
	APIRetries int  // system/api_retry lines: requests claude-code retried
	Malformed  int  // lines that were not JSON objects of a known shape
	Oversize   int  // lines longer than MaxLine, skipped
	Dropped    int  // tool calls not tracked because too many were open
}
