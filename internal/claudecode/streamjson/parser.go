package streamjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/agent/event"
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
	emit func(any)
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

// pending is a tool call whose result has not arrived.
type pending struct {
	name string
	turn int
	at   time.Time // the tool_use line's timestamp; zero if it had none
}

// NewParser returns a parser that passes each event to emit: pointers to
// event.Started, event.Turn, event.ToolCall, event.Denied and
// event.Finished, with Type and Time set. Emit is called synchronously.
func NewParser(emit func(any)) *Parser {
	if emit == nil {
		emit = func(any) {}
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
		p.emitEvent(&event.Started{Provider: "anthropic", Model: p.res.Model, Tools: p.res.Tools})
	case "api_retry":
		p.res.APIRetries++
	}
	return nil
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
	ev := &event.ToolCall{Turn: call.turn, Name: call.name}
	if !call.at.IsZero() && !at.IsZero() && at.After(call.at) {
		ev.DurationMs = min(at.Sub(call.at).Milliseconds(), int64(24*time.Hour/time.Millisecond))
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
	r.DurationMs = clampTokens(l.DurationMs)
	r.APIDurationMs = clampTokens(l.DurationAPIMs)
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
		p.emitEvent(&event.Denied{Command: denialCommand(d), Reason: "refused by claude-code's permission check"})
	}
	fin := &event.Finished{
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

// Close ends the stream: an unfinished turn and tool calls without results
// are reported, and, if no result line came, an agent.finished event with
// an error. It returns what the stream reported; calling it again returns
// the same Result and emits nothing.
func (p *Parser) Close() *Result {
	if !p.finished {
		p.flushTurn("")
		p.closeOpenTools("claude-code exited before the tool returned")
		p.finish(&event.Finished{
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

func (p *Parser) finish(fin *event.Finished) {
	p.finished = true
	p.emitEvent(fin)
	p.res.Finished = *fin
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
	p.emitEvent(&event.Turn{Turn: t.n, InputTokens: t.input, OutputTokens: t.output, StopReason: t.stop})
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
		p.emitEvent(&event.ToolCall{Turn: call.turn, Name: call.name, Error: why})
	}
}

// emitEvent stamps the header the way event.Writer would, clamps the free
// text, and hands the event on.
func (p *Parser) emitEvent(ev any) {
	now := p.now().UTC()
	switch e := ev.(type) {
	case *event.Started:
		e.Type, e.Time = event.TypeStarted, now
	case *event.Turn:
		e.Type, e.Time = event.TypeTurn, now
	case *event.ToolCall:
		e.Type, e.Time = event.TypeToolCall, now
	case *event.Denied:
		e.Type, e.Time = event.TypeDenied, now
	case *event.Finished:
		e.Type, e.Time = event.TypeFinished, now
		e.FinalText = event.Truncate(e.FinalText, event.MaxFinalText)
		e.Error = event.Truncate(e.Error, event.MaxField)
	}
	p.emit(ev)
}

func denialCommand(d denial) string {
	name := firstNonEmpty(d.ToolName, "tool")
	in := bytes.TrimSpace(d.ToolInput)
	if len(in) == 0 || string(in) == "null" {
		return event.Truncate(name, event.MaxField)
	}
	return event.Truncate(name+" "+string(in), event.MaxField)
}

func names(in []string) []string {
	out := make([]string, 0, min(len(in), maxList))
	for _, s := range in {
		if len(out) == maxList {
			break
		}
		out = append(out, event.Truncate(s, 128))
	}
	return out
}

func firstModel(m map[string]json.RawMessage) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return ""
	}
	return event.Truncate(keys[0], event.MaxField)
}

func parseTime(s string) time.Time {
	if s == "" || len(s) > 64 {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func clampTokens(v int64) int64 { return min(max(v, 0), maxTokens) }

func clampCost(v float64) float64 {
	if !(v > 0) { // also NaN
		return 0
	}
	return min(v, maxCost)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
