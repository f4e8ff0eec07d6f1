package execjson

import "github.com/voidbox/voidbox/internal/event"

// Result is what Codex reported about a run beyond the event model. Every
// value comes from the guest: the host-side gateway's accounting is the one
// to trust for tokens and cost.
type Result struct {
	// Finished is a copy of the agent.finished event that ended the stream.
	Finished event.AgentFinished

	ThreadID          string
	PromptTurns       int // turn.completed lines: Codex's own turns
	CachedInputTokens int64
	ReasoningTokens   int64
	// Warnings are the messages of "error" items (Codex goes on after them).
	Warnings []string
	// Notices are top-level "error" lines, such as reconnect attempts.
	Notices []string

	// Stream health.
	Completed bool // a turn.completed arrived and no turn.failed
	Malformed int  // lines that were not JSON objects of a known shape
	Oversize  int  // lines longer than MaxLine, skipped
	Dropped   int  // tool calls not tracked because too many were open
}

// maxNotes caps Warnings and Notices.
const maxNotes = 32

func addNote(list []string, s string) []string {
	if len(list) >= maxNotes || s == "" {
		return list
	}
	return append(list, event.Truncate(s, event.MaxField))
}
