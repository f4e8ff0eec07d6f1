package execjson

import (
	"github.com/voidbox/voidbox/internal/event"
)

// item handles item.started, item.updated and item.completed.
func (p *Parser) item(kind string, it *item) {
	done := kind == "item.completed"
	switch it.Type {
	case "error":
		if done {
			p.res.Warnings = addNote(p.res.Warnings, it.Message)
		}
		return
	case "agent_message", "reasoning":
		if done {
			p.response()
			if it.Type == "agent_message" {
				p.lastText = it.Text
			}
		}
		return
	}
	if !toolItems[it.Type] || len(it.ID) > maxID {
		if toolItems[it.Type] {
			p.res.Dropped++
		}
		return // a newer item type is not a tool call we can name
	}
	t, open := p.open[it.ID]
	if !open {
		r := p.response()
		r.hasTools = true
		p.emitTurn(r, 0, 0)
		t = openTool{name: toolName(it), turn: r.n}
		if !done {
			if len(p.open) >= maxOpenTools {
				p.res.Dropped++
				return
			}
			t.at = p.opts.Now()
			p.open[it.ID] = t
			return
		}
	}
	if !done {
		return
	}
	delete(p.open, it.ID)
	p.tools++
	ev := event.AgentToolCall{Turn: t.turn, Name: t.name, DurationMS: p.since(t.at)}
	if it.Type == "command_execution" && it.ExitCode != nil {
		code := int(min(max(*it.ExitCode, -1<<31), 1<<31-1))
		ev.ExitCode = &code
	}
	ev.Error = toolError(it)
	if p.cur != nil && len(p.open) == 0 {
		p.cur.toolsDone = true
	}
	p.emit(ev)
}

// response returns the model response an arriving item belongs to: the
// current one, or a new one when the current one's tools have all
// completed (the model has answered their results).
func (p *Parser) response() *response {
	if p.cur != nil && p.cur.toolsDone && len(p.open) == 0 {
		p.endResponse(nil)
	}
	if p.cur == nil {
		p.cur = &response{}
	}
	return p.cur
}

// emitTurn emits the agent.turn of r once.
func (p *Parser) emitTurn(r *response, input, output int64) {
	if r.n != 0 {
		return
	}
	p.turns++
	r.n = p.turns
	stop := "end_turn"
	if r.hasTools {
		stop = "tool_use"
	}
	p.emit(event.AgentTurn{Turn: r.n, InputTokens: input, OutputTokens: output, StopReason: stop})
}

// endResponse closes the current response, emitting its turn if no tool
// call did; u is the prompt turn's usage when it ends with it.
func (p *Parser) endResponse(u *usage) {
	r := p.cur
	p.cur = nil
	var in, out int64
	if u != nil {
		cached := min(clampTokens(u.CachedInputTokens), clampTokens(u.InputTokens))
		in, out = clampTokens(u.InputTokens)-cached, clampTokens(u.OutputTokens)
		p.input = min(p.input+in, maxTokens)
		p.output = min(p.output+out, maxTokens)
		p.res.CachedInputTokens = min(p.res.CachedInputTokens+cached, maxTokens)
		p.res.ReasoningTokens = min(p.res.ReasoningTokens+clampTokens(u.ReasoningTokens), maxTokens)
	}
	if r == nil {
		return
	}
	p.emitTurn(r, in, out)
}

func (p *Parser) turnCompleted(u *usage) {
	p.res.PromptTurns++
	if p.failure == "" {
		p.res.Completed = true
	}
	if u == nil {
		u = &usage{}
	}
	p.endResponse(u)
}

// toolName names a tool item the way voidbox's events name tools: MCP tools
// as <server>__<tool>, the others by Codex's item type.
func toolName(it *item) string {
	switch it.Type {
	case "command_execution":
		return "shell"
	case "mcp_tool_call":
		if it.Server != "" && it.Tool != "" {
			return event.Truncate(it.Server+"__"+it.Tool, event.MaxField)
		}
	}
	return it.Type
}

// toolError words a tool call that did not succeed.
func toolError(it *item) string {
	switch {
	case it.Error != nil && it.Error.Message != "":
		return event.Truncate(it.Error.Message, event.MaxField)
	case it.Status == "failed":
		if it.Type == "command_execution" && it.ExitCode != nil {
			return "" // the exit code says it
		}
		return "failed"
	case it.Status == "declined":
		return "declined by codex"
	}
	return ""
}
