package tui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/lipgloss/v2"
)

// graphLines draws the stage graph, one line per stage, grouped by level:
// a pipe is a column of single stages, a fan-out a bracket of siblings,
// and a DAG stage that does not simply follow the level above names what
// it waits for.
func (m *Model) graphLines(w int) []string {
	nameW := 4
	for _, s := range m.stages {
		nameW = max(nameW, lipgloss.Width(cleanLine(s.name)))
	}
	byLevel := map[int][]*stageView{}
	maxLevel := 0
	for _, s := range m.stages {
		byLevel[s.level] = append(byLevel[s.level], s)
		maxLevel = max(maxLevel, s.level)
	}
	var out []string
	for lvl := 0; lvl <= maxLevel; lvl++ {
		group := byLevel[lvl]
		for i, s := range group {
			bracket := " "
			if len(group) > 1 {
				switch i {
				case 0:
					bracket = "┌"
				case len(group) - 1:
					bracket = "└"
				default:
					bracket = "├"
				}
			}
			label := "  "
			if i == 0 {
				label = fmt.Sprintf("%2d", lvl+1)
			}
			out = append(out, m.graphLine(s, label, bracket, nameW, byLevel[lvl-1]))
		}
	}
	return out
}

func (m *Model) graphLine(s *stageView, label, bracket string, nameW int, above []*stageView) string {
	sym := stateSymbol[s.state]
	if s.state == stateRunning {
		sym = spinner[int(m.now.UnixMilli()/100)%len(spinner)]
	}
	name := cleanLine(s.name)
	name += strings.Repeat(" ", max(nameW-lipgloss.Width(name), 0))
	line := fmt.Sprintf("%s %s %s %s  %-9s", styleDim.Render(label), styleDim.Render(bracket), styled(s.state, sym), name, styled(s.state, s.state))
	if el := s.elapsed(m.now); el > 0 {
		line += " " + formatDuration(el)
	}
	if s.attempt > 1 {
		line += fmt.Sprintf(" #%d", s.attempt)
	}
	if len(s.needs) > 0 && !sameStages(s.needs, above) {
		line += styleDim.Render(" ← " + cleanLine(strings.Join(s.needs, ",")))
	}
	if s == m.current() {
		return styleSelected.Render("▸") + line
	}
	return " " + line
}

// sameStages: needs is exactly the stages of the level above.
func sameStages(needs []string, above []*stageView) bool {
	if len(needs) != len(above) {
		return false
	}
	for _, s := range above {
		if !slices.Contains(needs, s.name) {
			return false
		}
	}
	return true
}
