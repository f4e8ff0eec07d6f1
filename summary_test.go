package voidbox_test

import (
	"testing"

	"github.com/voidbox/voidbox"
)

// TestStageDetailSummary: the report's NOTE for an agent stage counts in
// words that agree with the numbers.
func TestStageDetailSummary(t *testing.T) {
	for _, c := range []struct {
		turns, calls int
		want         string
	}{
		{1, 1, "m: 1 turn, 1 tool call, 3+4 tokens"},
		{2, 0, "m: 2 turns, 0 tool calls, 3+4 tokens"},
	} {
		d := &voidbox.StageDetail{Agent: &voidbox.AgentDetail{Model: "m", Turns: c.turns, ToolCallCount: c.calls, InputTokens: 3, OutputTokens: 4}}
		if got := d.Summary(); got != c.want {
			t.Errorf("Summary() = %q, want %q", got, c.want)
		}
	}
}
