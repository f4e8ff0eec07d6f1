package streamjson

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

// pending is a tool call whose result has not arrived.
type pending struct {
	name string
	turn int
	at   time.Time // the tool_use line's timestamp; zero if it had none
}

func (p *Parser) openTool(b block, turn int, at time.Time) {
	if b.ID == "" || len(b.ID) > maxID {
		p.res.Dropped++
		return
	}
	if _, dup := p.open[b.ID]; !dup && len(p.open) >= maxOpenTools {
		p.res.Dropped++
		return
	}
	p.open[b.ID] = pending{name: event.Truncate(b.Name, event.MaxField), turn: turn, at: at}
}

func (p *Parser) user(line []byte) error {
	var l messageLine
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	if l.ParentToolUseID != "" || p.finished {
		return nil
	}
	at := parseTime(l.Timestamp)
	for _, b := range blocks(l.Message.Content) {
		if b.Type != "tool_result" {
			continue
		}
		call, ok := p.open[b.ToolUseID]
		if !ok {
			continue // a result for a call we never saw (or dropped)
		}
		delete(p.open, b.ToolUseID)
		// The results answer the current turn: it is complete now.
		p.flushTurn("")
		p.emitTool(call, at, b)
	}
	return nil
}

// emitTool emits the agent.tool_call event of a finished call.
func (p *Parser) emitTool(call pending, at time.Time, b block) {
	p.tools++
	ev := event.AgentToolCall{Turn: call.turn, Name: call.name}
	if !call.at.IsZero() && !at.IsZero() && at.After(call.at) {
		ev.DurationMS = min(at.Sub(call.at).Milliseconds(), int64(24*time.Hour/time.Millisecond))
	}
	text := plainText(b.Content)
	if b.IsError {
		ev.Error = event.Truncate(firstNonEmpty(text, "tool failed"), event.MaxField)
	}
	if call.name == "Bash" {
		ev.ExitCode = bashExit(b.IsError, text)
	}
	p.emitEvent(ev)
}

// bashExit derives the Bash tool's exit code: claude-code reports a failed
// command as an error result starting "Exit code N".
func bashExit(isError bool, text string) *int {
	if !isError {
		code := 0
		return &code
	}
	rest, ok := strings.CutPrefix(text, "Exit code ")
	if !ok {
		return nil // the tool itself failed (no shell, timeout, …)
	}
	n := 0
	digits := 0
	for _, c := range rest {
		if c < '0' || c > '9' || digits == 3 {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if digits == 0 {
		return nil
	}
	return &n
}

// closeOpenTools reports every call still waiting, in turn order, as failed.
func (p *Parser) closeOpenTools(why string) {
	ids := make([]string, 0, len(p.open))
	for id := range p.open {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if d := p.open[a].turn - p.open[b].turn; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, id := range ids {
		call := p.open[id]
		delete(p.open, id)
		p.tools++
		p.emitEvent(event.AgentToolCall{Turn: call.turn, Name: call.name, Error: why})
	}
}

func denialCommand(d denial) string {
	name := firstNonEmpty(d.ToolName, "tool")
	in := bytes.TrimSpace(d.ToolInput)
	if len(in) == 0 || string(in) == "null" {
		return event.Truncate(name, event.MaxField)
	}
	return event.Truncate(name+" "+string(in), event.MaxField)
}
