package streamjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

// Limits on what one stream may make the parser hold.
const (
	// MaxLine caps one stream-json line. claude-code puts whole tool inputs
	// (a file written) and tool outputs on one line, so this is far above
	// event.MaxLine; longer lines are skipped and counted.
	MaxLine = 4 << 20
	// maxOpenTools bounds the tool calls waiting for their result.
	maxOpenTools = 1024
	// maxID caps the tool_use ids kept as map keys.
	maxID = 256
	// maxList caps the tool and skill lists kept from the init line.
	maxList = 256
	// maxTokens bounds a token count read from the stream.
	maxTokens = 1 << 40
	// maxCost bounds the reported cost in USD.
	maxCost = 1e9
)

// ErrMalformed reports a line that is not a stream-json object of a known
// shape. Parser.Line returns it (wrapped); ParseStream counts and skips.
var ErrMalformed = errors.New("malformed stream-json line")

// Parser turns stream-json lines into agent events. It is not safe for
// concurrent use: one goroutine reads one stream.
type Parser struct {
	emit func(event.Data)
	now  func() time.Time

	started  bool
	finished bool
	turns    int
	tools    int
	cur      *turn              // the assistant message being read, nil between turns
	last     lastTurn           // the turn flushed most recently
	open     map[string]pending // tool calls without a result yet, by tool_use id
	lastText string             // text of the last main-loop assistant message
	res      Result
}

// NewParser returns a parser that passes each event to emit: pointers to
// event.AgentStarted, event.AgentTurn, event.AgentToolCall, event.AgentDenied and
// event.AgentFinished, with Type and Time set. Emit is called synchronously.
func NewParser(emit func(event.Data)) *Parser {
	if emit == nil {
		emit = func(event.Data) {}
	}
	return &Parser{emit: emit, now: time.Now, open: map[string]pending{}}
}

// Line parses one line (without its newline). A blank line is ignored; a
// line that is not understood returns an error wrapping ErrMalformed and
// changes nothing.
func (p *Parser) Line(line []byte) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	if len(line) > MaxLine {
		p.res.Oversize++
		return fmt.Errorf("%w: line of %d bytes exceeds %d", ErrMalformed, len(line), MaxLine)
	}
	var h header
	if err := json.Unmarshal(line, &h); err != nil {
		return p.malformed(err)
	}
	var err error
	switch h.Type {
	case "system":
		err = p.system(h.Subtype, line)
	case "assistant":
		err = p.assistant(line)
	case "user":
		err = p.user(line)
	case "result":
		err = p.result(line)
	default:
		// stream_event, rate_limit_event, prompt_suggestion, …: nothing the
		// event model carries. Unknown kinds are expected as claude-code
		// grows, so they are not malformed.
		return nil
	}
	if err != nil {
		return p.malformed(err)
	}
	return nil
}

func (p *Parser) malformed(err error) error {
	p.res.Malformed++
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

func (p *Parser) system(subtype string, line []byte) error {
	switch subtype {
	case "init":
		var l initLine
		if err := json.Unmarshal(line, &l); err != nil {
			return err
		}
		if p.started {
			return nil // only the first init describes the run
		}
		p.started = true
		p.res.Model = event.Truncate(l.Model, event.MaxField)
		p.res.Version = event.Truncate(l.Version, event.MaxField)
		p.res.SessionID = event.Truncate(l.SessionID, event.MaxField)
		p.res.Tools = names(l.Tools)
		p.res.Skills = names(l.Skills)
		p.emitEvent(event.AgentStarted{Provider: "anthropic", Model: p.res.Model, Tools: p.res.Tools})
	case "api_retry":
		p.res.APIRetries++
	}
	return nil
}

// Close ends the stream: an unfinished turn and tool calls without results
// are reported, and, if no result line came, an agent.finished event with
// an error. It returns what the stream reported; calling it again returns
// the same Result and emits nothing.
func (p *Parser) Close() *Result {
	if !p.finished {
		p.flushTurn("")
		p.closeOpenTools("claude-code exited before the tool returned")
		p.finish(event.AgentFinished{
			Turns:     p.turns,
			ToolCalls: p.tools,
			Error:     "claude-code exited without a result line",
			FinalText: p.lastText,
		})
	}
	res := p.res
	res.Tools = slices.Clone(p.res.Tools)
	res.Skills = slices.Clone(p.res.Skills)
	return &res
}

func (p *Parser) finish(fin event.AgentFinished) {
	p.finished = true
	p.res.Finished = event.Clamp(fin).(event.AgentFinished)
	p.emitEvent(fin)
}

// emitEvent clamps the free text the way event.Writer would and hands the
// event on.
func (p *Parser) emitEvent(d event.Data) {
	p.emit(event.Clamp(d))
}
