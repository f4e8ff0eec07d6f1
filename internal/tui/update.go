package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/voidbox/voidbox/internal/event"
)

// EventsMsg carries events from the Source, in order.
type EventsMsg []event.Event

// SourceDoneMsg says the Source has no more events: io.EOF at the end of
// a stream, or why it broke.
type SourceDoneMsg struct{ Err error }

// MalformedMsg counts stream lines that did not decode (skipped).
type MalformedMsg int

type tickMsg struct{}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Interval, func(time.Time) tea.Msg { return tickMsg{} })
}

// Init starts the clock that moves the timers.
func (m *Model) Init() tea.Cmd { return m.tick() }

// Update applies one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case EventsMsg:
		for _, ev := range msg {
			m.apply(ev)
		}
		m.now = m.opts.Now()
	case SourceDoneMsg:
		m.sourceDone, m.sourceErr = true, msg.Err
	case MalformedMsg:
		m.malformed += int(msg)
	case tickMsg:
		m.now = m.opts.Now()
		return m, m.tick()
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		return m, m.key(msg.String())
	}
	return m, nil
}

// key handles one key press and returns what to do about it.
func (m *Model) key(k string) tea.Cmd {
	if m.ask != askNothing {
		return m.answer(k)
	}
	if m.pager {
		return m.pagerKey(k)
	}
	switch k {
	case "up", "k", "shift+tab":
		m.move(-1)
	case "down", "j", "tab":
		m.move(1)
	case "pgup", "ctrl+u", "b":
		m.follow = false
		m.scroll += max(m.outputHeight()-1, 1)
	case "pgdown", "ctrl+d", "space":
		m.scroll = max(m.scroll-max(m.outputHeight()-1, 1), 0)
		if m.scroll == 0 {
			m.follow = true
		}
	case "f":
		m.follow = !m.follow
		if m.follow {
			m.scroll = 0
		}
	case "o", "enter":
		if m.current() != nil {
			m.pager = true
			m.pagerTop = max(len(m.pagerLines())-m.pagerHeight(), 0)
		}
	case "c":
		if m.canCancel() {
			m.ask = askCancel
		}
	case "ctrl+c":
		if m.canCancel() {
			m.ask = askCancel
			return nil
		}
		return tea.Quit
	case "q", "esc":
		if m.canCancel() && !m.opts.Attached {
			m.ask = askQuit
			return nil
		}
		if k == "q" {
			return tea.Quit
		}
	}
	return nil
}

// canCancel: the run is this process's own and still going.
func (m *Model) canCancel() bool {
	return m.opts.Cancel != nil && !m.finished() && !m.cancelSent
}

func (m *Model) answer(k string) tea.Cmd {
	ask := m.ask
	m.ask = askNothing
	if k != "y" && k != "Y" && !(k == "ctrl+c" && ask == askCancel) {
		return nil // anything else is no
	}
	m.cancelSent = true
	cancel := m.opts.Cancel
	if ask == askQuit {
		return func() tea.Msg { cancel(); return tea.QuitMsg{} }
	}
	return func() tea.Msg { cancel(); return nil }
}

func (m *Model) move(d int) {
	if len(m.stages) == 0 {
		return
	}
	m.userMoved = true
	m.selected = (m.selected + d + len(m.stages)) % len(m.stages)
	m.follow, m.scroll = true, 0
}

func (m *Model) pagerKey(k string) tea.Cmd {
	n := len(m.pagerLines())
	h := m.pagerHeight()
	last := max(n-h, 0)
	switch k {
	case "up", "k":
		m.pagerTop--
	case "down", "j":
		m.pagerTop++
	case "pgup", "b", "ctrl+u":
		m.pagerTop -= max(h-1, 1)
	case "pgdown", "space", "ctrl+d":
		m.pagerTop += max(h-1, 1)
	case "g", "home":
		m.pagerTop = 0
	case "G", "end":
		m.pagerTop = last
	case "o", "q", "esc", "enter":
		m.pager = false
	case "ctrl+c":
		m.pager = false
		return m.key(k)
	}
	m.pagerTop = min(max(m.pagerTop, 0), last)
	return nil
}
