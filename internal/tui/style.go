package tui

import "charm.land/lipgloss/v2"

// Styles of the view. Colours are ANSI 16 so they follow the user's
// terminal theme; bubbletea downsamples them for terminals with fewer.
var (
	styleTitle    = lipgloss.NewStyle().Bold(true)
	styleDim      = lipgloss.NewStyle().Faint(true)
	styleSelected = lipgloss.NewStyle().Reverse(true)
	styleStderr   = lipgloss.NewStyle().Foreground(lipgloss.Yellow)
	styleAsk      = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.BrightRed)
	stylePanel    = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.BrightBlack)

	stateStyle = map[string]lipgloss.Style{
		stateRunning:  lipgloss.NewStyle().Foreground(lipgloss.Cyan),
		stateRetrying: lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		stateQueued:   lipgloss.NewStyle().Faint(true),
		statePending:  lipgloss.NewStyle().Faint(true),
		"succeeded":   lipgloss.NewStyle().Foreground(lipgloss.Green),
		"failed":      lipgloss.NewStyle().Foreground(lipgloss.Red).Bold(true),
		"skipped":     lipgloss.NewStyle().Faint(true),
		"cancelled":   lipgloss.NewStyle().Foreground(lipgloss.Magenta),
	}
	stateSymbol = map[string]string{
		statePending: "○", stateQueued: "◌", stateRetrying: "↻",
		"succeeded": "✓", "failed": "✗", "skipped": "-", "cancelled": "⊘",
	}
	spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
)

func styled(state, s string) string {
	if st, ok := stateStyle[state]; ok {
		return st.Render(s)
	}
	return s
}
