package streamjson

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/voidbox/voidbox/internal/event"
)

func (p *Parser) result(line []byte) error {
	var l resultLine
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	if p.finished {
		return nil
	}
	p.flushTurn(event.Truncate(l.StopReason, event.MaxField))
	p.closeOpenTools("the run ended before the tool returned")
	r := &p.res
	r.GotResult = true
	r.NumTurns = int(min(max(l.NumTurns, 0), math.MaxInt32))
	r.CostUSD = clampCost(l.TotalCostUSD)
	r.DurationMS = clampTokens(l.DurationMs)
	r.APIDurationMS = clampTokens(l.DurationAPIMs)
	r.CacheReadTokens = clampTokens(l.Usage.CacheReadInputTokens)
	r.CacheWriteTokens = clampTokens(l.Usage.CacheCreationInputTokens)
	r.Subtype = event.Truncate(l.Subtype, event.MaxField)
	r.TerminalReason = event.Truncate(l.TerminalReason, event.MaxField)
	if l.APIErrorStatus > 0 && l.APIErrorStatus < 1000 {
		r.APIErrorStatus = int(l.APIErrorStatus)
	}
	if l.SessionID != "" && r.SessionID == "" {
		r.SessionID = event.Truncate(l.SessionID, event.MaxField)
	}
	if r.Model == "" {
		r.Model = firstModel(l.ModelUsage)
	}
	for i, d := range l.PermissionDenials {
		if i == maxOpenTools {
			break
		}
		r.Denials++
		p.emitEvent(event.AgentDenied{Command: denialCommand(d), Reason: "refused by claude-code's permission check"})
	}
	fin := event.AgentFinished{
		Turns:        p.turns,
		ToolCalls:    p.tools,
		InputTokens:  clampTokens(l.Usage.InputTokens),
		OutputTokens: clampTokens(l.Usage.OutputTokens),
	}
	if l.IsError {
		fin.Error = resultError(l)
	} else {
		fin.FinalText = firstNonEmpty(l.Result, p.lastText)
	}
	p.finish(fin)
	return nil
}

// resultError words a failed run: the terminal reason, the API status and
// what claude-code said.
func resultError(l resultLine) string {
	var parts []string
	reason := firstNonEmpty(l.TerminalReason, l.Subtype, "error")
	if l.APIErrorStatus > 0 && l.APIErrorStatus < 1000 {
		reason += fmt.Sprintf(" (HTTP %d)", l.APIErrorStatus)
	}
	parts = append(parts, reason)
	for i, e := range l.Errors {
		if i == 4 {
			break
		}
		if s := rawString(e); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 1 && l.Result != "" {
		parts = append(parts, l.Result)
	}
	return strings.Join(parts, ": ")
}
