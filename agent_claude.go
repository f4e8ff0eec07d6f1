package voidbox

import (
	"errors"
)

// newClaudeRuntime is replaced when the Claude Code flavour lands.
func newClaudeRuntime(cacheDir string) (agentRuntime, error) {
	return nil, errors.New("the claude-code runtime is not available yet")
}
