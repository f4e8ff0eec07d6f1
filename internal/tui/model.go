package tui

import (
	"fmt"
	"slices"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

// confirmation is a question the footer asks before acting.
type confirmation int

const (
	askNothing confirmation = iota
	askCancel               // cancel the run?
	askQuit                 // quitting a local run cancels it: sure?
)

// Model is the TUI's state; Update changes it only from events, keys,
// window sizes and clock ticks, so a recorded stream replays to the same
// screen.
type Model struct {
	opts Options

	run         string
	maxParallel int
	stages      []*stageView
	byName      map[string]*stageView
	runStart    time.Time
	runEnd      time.Time
	status      string // "" while running; the run's final status after
	runErr      string
	total       usage

	selected   int
	userMoved  bool // the user chose a stage; stop following the newest
	follow     bool // the output panel sticks to the newest line
	scroll     int  // lines above the bottom while not following
	pager      bool // full-screen output of the selected stage
	pagerTop   int  // first line shown in the pager
	ask        confirmation
	cancelSent bool

	width, height int
	now           time.Time

	sourceDone bool
	sourceErr  error
	malformed  int
}

// NewModel returns the view's state before any event.
func NewModel(o Options) *Model {
	o = o.withDefaults()
	return &Model{opts: o, byName: map[string]*stageView{}, follow: true, now: o.Now(), width: 100, height: 30}
}

// apply folds one event into the model.
func (m *Model) apply(ev event.Event) {
	switch d := ev.Data.(type) {
	case event.RunStarted:
		m.run, m.runStart, m.maxParallel = ev.Run, ev.Time, d.MaxParallel
		for _, name := range d.Stages {
			m.stage(name).needs = d.Needs[name]
		}
		m.layout()
		return
	case event.RunFinished:
		m.status, m.runEnd, m.runErr = d.Status, ev.Time, d.Error
		if m.runStart.IsZero() && d.DurationMS > 0 {
			m.runStart = ev.Time.Add(-time.Duration(d.DurationMS) * time.Millisecond)
		}
		return
	}
	if ev.Stage == "" {
		return
	}
	if m.run == "" {
		m.run = ev.Run // attached mid-run: no run.started seen
	}
	s := m.stage(ev.Stage)
	switch d := ev.Data.(type) {
	case event.StageQueued:
		s.state = stateQueued
	case event.StageStarted:
		s.state, s.attempt = stateRunning, ev.Attempt
		if s.started.IsZero() {
			s.started = ev.Time
		}
		if ev.Attempt > 1 {
			s.note("attempt %d started", ev.Attempt)
		}
		if !m.userMoved {
			m.selectStage(s)
		}
	case event.StageRetrying:
		s.state = stateRetrying
		s.endVM()
		s.flushOutput()
		s.note("attempt %d failed: %s; retrying in %s", ev.Attempt, d.Error, formatDuration(time.Duration(d.DelayMS)*time.Millisecond))
	case event.StageSucceeded:
		s.end(ev.Time, "succeeded")
		s.outSize = d.OutputBytes
		s.detail = exitDetail(d.ExitCode)
	case event.StageFailed:
		s.end(ev.Time, "failed")
		s.detail = d.Error
		for _, l := range d.StderrTail {
			if len(s.output.l) == 0 {
				s.addOutput("stderr", l) // output was not streamed (remote, mid-run attach)
			}
		}
	case event.StageSkipped:
		s.end(ev.Time, "skipped")
		s.detail = d.Reason
	case event.StageCancelled:
		s.end(ev.Time, "cancelled")
		s.detail = d.Reason
	case event.VMBooted:
		s.vm = &vmView{attempt: ev.Attempt, bootMS: d.BootMS, kernel: d.Kernel, accel: d.Accel}
	case event.VMStats:
		if s.vm == nil || s.vm.attempt != ev.Attempt {
			s.vm = &vmView{attempt: ev.Attempt}
		}
		st := d
		s.vm.stats = &st
	case event.ExecOutput:
		s.feedOutput(d.Stream, d.Data)
	case event.AgentStarted:
		s.agent.provider, s.agent.model = d.Provider, d.Model
		s.note("agent started: %s %s, %d tools", d.Provider, d.Model, len(d.Tools))
	case event.AgentTurn:
		s.agent.turns = max(s.agent.turns, d.Turn)
		s.note("turn %d: %d in / %d out tokens (%s)", d.Turn, d.InputTokens, d.OutputTokens, d.StopReason)
	case event.AgentToolCall:
		s.agent.toolCalls++
		s.note("%s", toolCallLine(d))
	case event.AgentDenied:
		s.agent.denied++
		s.note("denied: %s (%s)", d.Command, d.Reason)
	case event.AgentFinished:
		s.agent.finalText, s.agent.outputFile, s.agent.errMsg = d.FinalText, d.OutputFile, d.Error
		if d.Error != "" {
			s.note("agent finished after %d turns: %s", d.Turns, d.Error)
		} else {
			s.note("agent finished: %d turns, %d tool calls", d.Turns, d.ToolCalls)
		}
	case event.LLMRequest:
		s.tokens.add(d)
		m.total.add(d)
	case event.SkillFetched:
		s.note("skill %s fetched (%s)", d.Name, d.URL)
	}
}

func (s *stageView) end(at time.Time, status string) {
	s.state, s.ended = status, at
	s.flushOutput()
	s.endVM()
}

func (s *stageView) endVM() {
	if s.vm != nil {
		s.vm.finished = true
	}
}

func exitDetail(code *int) string {
	if code == nil {
		return ""
	}
	return fmt.Sprintf("exit %d", *code)
}

func toolCallLine(d event.AgentToolCall) string {
	line := fmt.Sprintf("turn %d: %s", d.Turn, d.Name)
	if d.ExitCode != nil {
		line += fmt.Sprintf(" exit %d", *d.ExitCode)
	}
	line += " (" + formatDuration(time.Duration(d.DurationMS)*time.Millisecond) + ")"
	switch {
	case d.Denied:
		line += " denied"
		if d.Error != "" {
			line += ": " + d.Error
		}
	case d.Error != "":
		line += " error: " + d.Error
	}
	return line
}

// stage returns the named stage, adding it on its first event.
func (m *Model) stage(name string) *stageView {
	if s, ok := m.byName[name]; ok {
		return s
	}
	s := &stageView{name: name, state: statePending}
	m.byName[name] = s
	m.stages = append(m.stages, s)
	return s
}

func (m *Model) selectStage(s *stageView) {
	for i, x := range m.stages {
		if x == s {
			if i != m.selected {
				m.selected, m.follow, m.scroll = i, true, 0
			}
			return
		}
	}
}

// current is the selected stage, nil before any.
func (m *Model) current() *stageView {
	if m.selected < 0 || m.selected >= len(m.stages) {
		return nil
	}
	return m.stages[m.selected]
}

// layout gives each stage its level: one past the deepest stage it needs.
// Unknown or cyclic needs (a stream the engine did not write) count as none.
func (m *Model) layout() {
	level := map[string]int{}
	var depth func(s *stageView, seen map[string]bool) int
	depth = func(s *stageView, seen map[string]bool) int {
		if l, ok := level[s.name]; ok {
			return l
		}
		if seen[s.name] {
			return 0
		}
		seen[s.name] = true
		l := 0
		for _, n := range s.needs {
			if d, ok := m.byName[n]; ok {
				l = max(l, depth(d, seen)+1)
			}
		}
		level[s.name] = l
		return l
	}
	for _, s := range m.stages {
		s.level = depth(s, map[string]bool{})
	}
	// Selection moves in the order the graph is drawn: by level.
	slices.SortStableFunc(m.stages, func(a, b *stageView) int { return a.level - b.level })
}

// done counts the stages that ended.
func (m *Model) done() int {
	n := 0
	for _, s := range m.stages {
		if s.finished() {
			n++
		}
	}
	return n
}

// finished reports whether the run has ended.
func (m *Model) finished() bool { return m.status != "" }
