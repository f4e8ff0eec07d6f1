package streamjson

import (
	"encoding/json"
	"strings"

	"github.com/voidbox/voidbox/internal/event"
)

// turn is one assistant message (one API response) of the main loop.
type turn struct {
	id       string
	n        int
	input    int64
	output   int64
	stop     string
	toolUse  bool
	text     strings.Builder
	textFull bool
}

// lastTurn identifies the most recently flushed turn, so that a late block
// of the same message (claude-code may start a tool, and print its result,
// while the model is still streaming the next block) joins it instead of
// counting as a new turn.
type lastTurn struct {
	id string
	n  int
}

func (p *Parser) assistant(line []byte) error {
	var l messageLine
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	if l.ParentToolUseID != "" || l.IsAPIErrorMessage || p.finished {
		return nil
	}
	id := event.Truncate(l.Message.ID, maxID)
	at := parseTime(l.Timestamp)
	if p.cur == nil && id != "" && id == p.last.id {
		// A late block of a turn already reported: its tool calls still
		// belong to that turn; its usage and text are not re-reported.
		for _, b := range blocks(l.Message.Content) {
			if b.Type == "tool_use" {
				p.openTool(b, p.last.n, at)
			}
		}
		return nil
	}
	if p.cur == nil || id == "" || id != p.cur.id {
		p.flushTurn("")
		p.turns++
		p.cur = &turn{id: id, n: p.turns}
	}
	t := p.cur
	u := l.Message.Usage
	// Every block line repeats the message's usage as known so far; keep
	// the largest values seen.
	t.input = max(t.input, clampTokens(u.InputTokens))
	t.output = max(t.output, clampTokens(u.OutputTokens))
	if l.Message.StopReason != "" {
		t.stop = event.Truncate(l.Message.StopReason, event.MaxField)
	}
	for _, b := range blocks(l.Message.Content) {
		switch b.Type {
		case "text":
			t.addText(b.Text)
		case "tool_use":
			t.toolUse = true
			p.openTool(b, t.n, at)
		}
	}
	if t.toolUse {
		// The model asked for a tool: the turn's outcome is known, and the
		// next line may be a long time coming (the tool runs first). Later
		// blocks of the message join the turn through p.last.
		p.flushTurn("")
	}
	return nil
}

func (t *turn) addText(s string) {
	if t.textFull {
		return
	}
	if t.text.Len()+len(s) > event.MaxFinalText {
		s = event.Truncate(s, max(0, event.MaxFinalText-t.text.Len()))
		t.textFull = true
	}
	t.text.WriteString(s)
}

// flushTurn emits the turn being read, if any. stop, when set, is the stop
// reason claude-code reported for the run's last response.
func (p *Parser) flushTurn(stop string) {
	t := p.cur
	if t == nil {
		return
	}
	p.cur = nil
	p.last = lastTurn{id: t.id, n: t.n}
	switch {
	case t.toolUse:
		t.stop = "tool_use"
	case stop != "":
		t.stop = stop
	}
	if t.text.Len() > 0 {
		p.lastText = t.text.String()
	}
	p.emitEvent(event.AgentTurn{Turn: t.n, InputTokens: t.input, OutputTokens: t.output, StopReason: t.stop})
}
