package execjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

// Limits on what one stream may make the parser hold.
const (
	// MaxLine caps one line. Codex puts a command's whole output on its
	// item.completed line, so this is far above event.MaxLine; longer lines
	// are skipped and counted.
	MaxLine = 4 << 20
	// maxOpenTools bounds the tool calls waiting to complete.
	maxOpenTools = 1024
	// maxID caps the item ids kept as map keys.
	maxID = 256
	// maxTokens bounds a token count read from the stream.
	maxTokens = 1 << 40
)

// ErrMalformed reports a line that is not a Codex JSON object of a known
// shape. Parser.Line returns it (wrapped); ParseStream counts and skips.
var ErrMalformed = errors.New("malformed codex exec json line")

// Options say what the stream itself does not: Codex's JSON names neither
// the provider nor the model.
type Options struct {
	Provider string
	Model    string
	Now      func() time.Time // nil: time.Now
}

// Parser turns `codex exec --json` lines into agent events. It is not safe
// for concurrent use: one goroutine reads one stream.
type Parser struct {
	emit func(event.Data)
	opts Options

	started  bool
	finished bool
	turns    int
	tools    int
	cur      *response           // the model response being read, nil between them
	open     map[string]openTool // tool items started and not completed, by item id
	lastText string              // the last agent_message
	failure  string              // turn.failed's message
	input    int64               // input tokens without cached ones, summed
	output   int64
	res      Result
}

// response is one inferred model response.
type response struct {
	n         int  // its turn number once emitted, else 0
	hasTools  bool // it made tool calls
	toolsDone bool // one of them completed: the next item is a new response
}

type openTool struct {
	name string
	turn int
	at   time.Time
}

// NewParser returns a parser that passes each event to emit:
// event.AgentStarted, event.AgentTurn, event.AgentToolCall and
// event.AgentFinished. Emit is called synchronously.
func NewParser(emit func(event.Data), o Options) *Parser {
	if emit == nil {
		emit = func(event.Data) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Provider, o.Model = event.Truncate(o.Provider, event.MaxField), event.Truncate(o.Model, event.MaxField)
	return &Parser{emit: emit, opts: o, open: map[string]openTool{}}
}

// Line parses one line (without its newline). A blank line is ignored; a
// line that is not understood returns an error wrapping ErrMalformed.
func (p *Parser) Line(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if len(b) > MaxLine {
		p.res.Oversize++
		return fmt.Errorf("%w: line of %d bytes exceeds %d", ErrMalformed, len(b), MaxLine)
	}
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		p.res.Malformed++
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if p.finished {
		return nil
	}
	switch l.Type {
	case "thread.started":
		if p.res.ThreadID == "" {
			p.res.ThreadID = event.Truncate(l.ThreadID, event.MaxField)
		}
		p.start()
	case "turn.started":
		p.start()
	case "item.started", "item.updated", "item.completed":
		if l.Item == nil {
			p.res.Malformed++
			return fmt.Errorf("%w: %s without an item", ErrMalformed, l.Type)
		}
		p.start()
		p.item(l.Type, l.Item)
	case "turn.completed":
		p.start()
		p.turnCompleted(l.Usage)
	case "turn.failed":
		p.start()
		msg := "turn failed"
		if l.Error != nil && l.Error.Message != "" {
			msg = l.Error.Message
		}
		p.failure = event.Truncate(msg, event.MaxField)
		p.endResponse(nil)
	case "error":
		p.res.Notices = addNote(p.res.Notices, l.Message)
	default:
		p.res.Malformed++
		return fmt.Errorf("%w: unknown type %q", ErrMalformed, event.Truncate(l.Type, 64))
	}
	return nil
}

// start emits agent.started once, before anything else.
func (p *Parser) start() {
	if p.started {
		return
	}
	p.started = true
	p.emit(event.AgentStarted{Provider: p.opts.Provider, Model: p.opts.Model, Tools: []string{}})
}

// Close ends the stream: tool calls still open are reported as failed, and
// agent.finished is emitted (once). It returns what the stream reported.
func (p *Parser) Close() *Result {
	if p.finished {
		return &p.res
	}
	p.start()
	for id, t := range p.open {
		p.tools++
		p.emit(event.AgentToolCall{Turn: t.turn, Name: t.name, DurationMS: p.since(t.at), Error: "the run ended before the tool returned"})
		delete(p.open, id)
	}
	p.endResponse(nil)
	fin := event.AgentFinished{Turns: p.turns, ToolCalls: p.tools, InputTokens: p.input, OutputTokens: p.output}
	switch {
	case p.failure != "":
		fin.Error = p.failure
	case !p.res.Completed:
		fin.Error = "codex exited before completing its turn"
	default:
		fin.FinalText = event.Truncate(p.lastText, event.MaxFinalText)
	}
	p.finished = true
	p.res.Finished = fin
	p.emit(fin)
	return &p.res
}

func (p *Parser) since(at time.Time) int64 {
	if at.IsZero() {
		return 0
	}
	return max(p.opts.Now().Sub(at).Milliseconds(), 0)
}

func clampTokens(v int64) int64 { return min(max(v, 0), maxTokens) }
