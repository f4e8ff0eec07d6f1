package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Below this size the panels do not fit: the view is one line per stage.
const (
	minPanelWidth  = 60
	minPanelHeight = 12
)

// View draws the whole screen: exactly height lines of exactly width cells,
// so a redraw (after a resize too) leaves nothing of the last frame.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "voidbox " + cleanLine(m.run)
	return v
}

func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	var body []string
	switch {
	case m.pager:
		body = m.pagerView(m.height - 2)
	case m.width < minPanelWidth || m.height < minPanelHeight:
		body = m.compactView(m.height - 2)
	default:
		body = m.panels(m.height - 2)
	}
	out := make([]string, 0, m.height)
	out = append(out, fit(m.header(), m.width))
	for _, l := range body {
		out = append(out, fit(l, m.width))
	}
	for len(out) < m.height-1 {
		out = append(out, fit("", m.width))
	}
	out = append(out[:m.height-1], fit(m.footer(), m.width))
	return strings.Join(out, "\n")
}

func (m *Model) header() string {
	status := stateRunning
	if m.finished() {
		status = m.status
	} else if m.cancelSent {
		status = "cancelling"
	}
	elapsed := m.now.Sub(m.runStart)
	if m.finished() {
		elapsed = m.runEnd.Sub(m.runStart)
	}
	if m.runStart.IsZero() {
		elapsed = 0
	}
	parts := []string{
		styleTitle.Render("voidbox") + " run " + styleTitle.Render(cleanLine(m.run)),
		styled(status, status),
		fmt.Sprintf("%d/%d done", m.done(), len(m.stages)),
		formatDuration(elapsed),
	}
	if vms := m.liveVMs(); vms > 0 {
		parts = append(parts, fmt.Sprintf("%d VM%s", vms, plural(vms)))
	}
	if m.total.requests > 0 {
		parts = append(parts, fmt.Sprintf("tokens %s in / %s out", formatTokens(m.total.input), formatTokens(m.total.output)),
			fmt.Sprintf("$%.4f", m.total.costUSD))
	}
	return " " + strings.Join(parts, styleDim.Render(" · "))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (m *Model) liveVMs() int {
	n := 0
	for _, s := range m.stages {
		if s.vm != nil && !s.vm.finished {
			n++
		}
	}
	return n
}

func (m *Model) footer() string {
	switch m.ask {
	case askCancel:
		return styleAsk.Render(" Cancel run " + cleanLine(m.run) + "? Every running stage's VM is stopped. [y/N]")
	case askQuit:
		return styleAsk.Render(" Quit? The run is still going and quitting cancels it. [y/N]")
	}
	if m.pager {
		return styleDim.Render(" ↑↓ pgup/pgdn g/G scroll · esc back")
	}
	keys := []string{"↑↓ stage", "pgup/pgdn scroll", "f follow", "o open output"}
	if m.canCancel() {
		keys = append(keys, "c cancel")
	}
	keys = append(keys, "q quit")
	extra := ""
	switch {
	case m.finished():
		extra = " · run finished"
	case m.sourceDone:
		extra = " · stream ended"
		if m.sourceErr != nil && m.sourceErr.Error() != "EOF" {
			extra += ": " + cleanLine(m.sourceErr.Error())
		}
	}
	return styleDim.Render(" " + strings.Join(keys, " · ") + extra)
}

// panels lays out the graph (left) and the selected stage (right).
func (m *Model) panels(h int) []string {
	lw := m.graphWidth()
	rw := m.width - lw
	left := m.panel("stages", m.graphLines(lw-2), lw, h)
	right := m.panel(m.stageTitle(), m.stageLines(rw-2, h-3), rw, h)
	return strings.Split(lipgloss.JoinHorizontal(lipgloss.Top, left, right), "\n")
}

// panel draws a bordered box of exactly w×h cells: title on its first
// line, then content, cut or padded to fit.
func (m *Model) panel(title string, content []string, w, h int) string {
	inner := make([]string, h-2)
	for i := range inner {
		l := ""
		switch {
		case i == 0:
			l = styleTitle.Render(title)
		case i-1 < len(content):
			l = content[i-1]
		}
		inner[i] = fit(l, w-2)
	}
	return stylePanel.Width(w).Render(strings.Join(inner, "\n"))
}

func (m *Model) graphWidth() int {
	nameW := 4
	for _, s := range m.stages {
		nameW = max(nameW, lipgloss.Width(cleanLine(s.name)))
	}
	w := nameW + 30
	return min(max(w, 34), m.width*45/100)
}

// stageTitle is the right panel's title: the selected stage's name.
func (m *Model) stageTitle() string {
	s := m.current()
	if s == nil {
		return "waiting for events"
	}
	return cleanLine(s.name)
}

// compactView is one line per stage, for terminals too small for panels.
func (m *Model) compactView(h int) []string {
	lines := m.graphLines(m.width)
	if len(lines) > h {
		lines = lines[:h]
	}
	return lines
}
