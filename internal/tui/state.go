package tui

import (
	"fmt"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

// Stage states before a stage ends; an ended stage shows its final status
// (succeeded, failed, skipped, cancelled), as in the run's report.
const (
	statePending  = "pending"
	stateQueued   = "queued"
	stateRunning  = "running"
	stateRetrying = "retrying"
)

// Caps on what is kept per stage: a stage that floods its output costs the
// view a bounded amount of memory.
const (
	maxOutputLines   = 5000
	maxActivityLines = 500
)

// stageView is everything the view knows of one stage, from events only.
type stageView struct {
	name    string
	needs   []string
	level   int // 0-based depth in the graph
	state   string
	attempt int
	started time.Time // first attempt's start
	ended   time.Time
	detail  string // error, skip or cancel reason, exit code

	output   lines // exec.output, cleaned
	activity lines // agent turns, tool calls, denials, retries
	partial  map[string]string

	vm      *vmView // the current (or last) attempt's VM
	agent   agentView
	tokens  usage // from the host gateway's llm.request events
	outSize int   // output_bytes of a succeeded stage
}

// vmView is an attempt's VM: boot facts and its latest vm.stats.
type vmView struct {
	attempt  int
	bootMS   float64
	kernel   string
	accel    string
	stats    *event.VMStats
	finished bool // the attempt ended: the VM is gone
}

type agentView struct {
	provider, model    string
	turns, toolCalls   int
	denied             int
	finalText          string
	outputFile, errMsg string
}

// usage is tokens and cost from llm.request events.
type usage struct {
	requests      int
	input, output int64
	costUSD       float64
	failed        int
}

func (u *usage) add(r event.LLMRequest) {
	u.requests++
	u.input += r.InputTokens
	u.output += r.OutputTokens
	u.costUSD += r.CostUSD
	if r.Error != "" || r.Status >= 400 {
		u.failed++
	}
}

// lines is a bounded list of display lines that counts what it dropped.
type lines struct {
	l       []string
	dropped int
	max     int
}

func (b *lines) add(s string) {
	if b.max == 0 {
		b.max = maxOutputLines
	}
	if len(b.l) >= b.max {
		n := len(b.l) - b.max + 1
		b.l = append(b.l[:0], b.l[n:]...)
		b.dropped += n
	}
	b.l = append(b.l, s)
}

// elapsed is how long the stage has run, at now if it has not ended.
func (s *stageView) elapsed(now time.Time) time.Duration {
	switch {
	case s.started.IsZero():
		return 0
	case !s.ended.IsZero():
		return s.ended.Sub(s.started)
	}
	return max(now.Sub(s.started), 0)
}

func (s *stageView) finished() bool { return !s.ended.IsZero() }

// feedOutput splits a chunk of a stream into lines; the last, unfinished
// line waits for more (or for flushOutput).
func (s *stageView) feedOutput(stream, data string) {
	if s.partial == nil {
		s.partial = map[string]string{}
	}
	text := s.partial[stream] + data
	for {
		i := indexNewline(text)
		if i < 0 {
			break
		}
		s.addOutput(stream, text[:i])
		text = text[i+1:]
	}
	if len(text) > 4096 { // a stream without newlines is shown in pieces
		s.addOutput(stream, text)
		text = ""
	}
	s.partial[stream] = text
}

func (s *stageView) flushOutput() {
	for _, stream := range []string{"stdout", "stderr"} {
		if t := s.partial[stream]; t != "" {
			s.addOutput(stream, t)
		}
	}
	s.partial = nil
}

func (s *stageView) addOutput(stream, line string) {
	line = cleanLine(line)
	if stream == "stderr" {
		line = stderrMark + line
	}
	s.output.add(line)
}

// stderrMark starts a stderr line in the output panel (the view colours it).
const stderrMark = "\x00"

func indexNewline(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return i
		}
	}
	return -1
}

func (s *stageView) note(format string, a ...any) {
	if s.activity.max == 0 {
		s.activity.max = maxActivityLines
	}
	s.activity.add(cleanLine(fmt.Sprintf(format, a...)))
}
