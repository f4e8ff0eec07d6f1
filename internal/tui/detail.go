package tui

import (
	"fmt"
	"strings"
)

// stageHead is the selected stage's summary above its output.
func (m *Model) stageHead(s *stageView, w int) []string {
	line := styled(s.state, s.state)
	if s.attempt > 0 {
		line += fmt.Sprintf(" · attempt %d", s.attempt)
	}
	if el := s.elapsed(m.now); el > 0 {
		line += " · " + formatDuration(el)
	}
	if s.detail != "" {
		line += " · " + cleanLine(s.detail)
	}
	if s.outSize > 0 {
		line += " · " + formatBytes(int64(s.outSize)) + " output"
	}
	head := []string{line}
	if len(s.needs) > 0 {
		head = append(head, styleDim.Render("needs "+cleanLine(strings.Join(s.needs, ", "))))
	}
	head = append(head, vmLine(s.vm))
	if s.agent.model != "" || s.tokens.requests > 0 {
		a := "agent"
		if s.agent.model != "" {
			a += " " + cleanLine(s.agent.model)
		}
		a += fmt.Sprintf(" · %d turns · %d tool calls", s.agent.turns, s.agent.toolCalls)
		if s.agent.denied > 0 {
			a += fmt.Sprintf(" · %d denied", s.agent.denied)
		}
		if s.tokens.requests > 0 {
			a += fmt.Sprintf(" · tokens %s in / %s out · $%.4f", formatTokens(s.tokens.input), formatTokens(s.tokens.output), s.tokens.costUSD)
		}
		head = append(head, a)
	}
	return append(head, styleDim.Render(strings.Repeat("─", max(w, 0))))
}

func vmLine(v *vmView) string {
	if v == nil {
		return styleDim.Render("vm: not booted")
	}
	parts := []string{"vm"}
	if v.accel != "" {
		parts = append(parts, fmt.Sprintf("%s boot %s", v.accel, formatDuration(msDuration(v.bootMS))))
	}
	if st := v.stats; st != nil {
		// QEMU's resident memory: guest pages touched plus QEMU itself,
		// so it can pass the guest's size.
		mem := "rss " + formatBytes(st.RSSBytes)
		if st.MemoryMB > 0 {
			mem += fmt.Sprintf(" (guest %d MiB)", st.MemoryMB)
		}
		parts = append(parts, mem, fmt.Sprintf("cpu %.0f%%", st.CPUPercent))
	}
	if v.finished {
		parts = append(parts, "stopped")
		return styleDim.Render(strings.Join(parts, " · "))
	}
	return strings.Join(parts, " · ")
}

// stageLines is the right panel below its title: summary, recent agent
// activity, then as much output as fits.
func (m *Model) stageLines(w, h int) []string {
	s := m.current()
	if s == nil {
		return nil
	}
	out := m.stageHead(s, w)
	if n := len(s.activity.l); n > 0 {
		k := min(n, max((h-len(out))/3, 3))
		out = append(out, styleTitle.Render("activity"))
		for _, l := range s.activity.l[n-k:] {
			out = append(out, "  "+l)
		}
	}
	rows := max(h-len(out)-1, 0)
	lines := s.output.l
	end := len(lines)
	if !m.follow {
		m.scroll = min(m.scroll, max(len(lines)-rows, 0))
		end = len(lines) - m.scroll
	}
	start := max(end-rows, 0)
	label := "output"
	switch {
	case len(lines) == 0 && s.finished():
		label += ": none"
	case len(lines) == 0:
		label += ": none yet"
	case m.follow:
		label += " (following)"
	default:
		label += fmt.Sprintf(" (%d lines above the end · f follows)", m.scroll)
	}
	out = append(out, styleTitle.Render(label))
	for _, l := range lines[start:end] {
		out = append(out, outputLine(l))
	}
	return out
}

func outputLine(l string) string {
	if rest, ok := strings.CutPrefix(l, stderrMark); ok {
		return styleStderr.Render(rest)
	}
	return l
}

// outputHeight is how many output lines the right panel shows.
func (m *Model) outputHeight() int {
	s := m.current()
	if s == nil {
		return 1
	}
	h := m.height - 2 - 3
	used := len(m.stageHead(s, 1)) + 1
	if n := len(s.activity.l); n > 0 {
		used += 1 + min(n, max((h-used)/3, 3))
	}
	return max(h-used, 1)
}

// pagerLines is everything kept of the selected stage's output, and an
// agent's final text.
func (m *Model) pagerLines() []string {
	s := m.current()
	if s == nil {
		return nil
	}
	var out []string
	if s.output.dropped > 0 {
		out = append(out, styleDim.Render(fmt.Sprintf("(%d earlier lines not kept)", s.output.dropped)))
	}
	for _, l := range s.output.l {
		out = append(out, outputLine(l))
	}
	if t := s.agent.finalText; t != "" {
		out = append(out, styleTitle.Render("final text"))
		for _, l := range strings.Split(t, "\n") {
			out = append(out, cleanLine(l))
		}
	}
	if s.agent.outputFile != "" {
		out = append(out, styleDim.Render("output file in the guest: "+cleanLine(s.agent.outputFile)))
	}
	return out
}

func (m *Model) pagerHeight() int { return max(m.height-3, 1) }

func (m *Model) pagerView(h int) []string {
	s := m.current()
	lines := m.pagerLines()
	rows := max(h-1, 0)
	top := min(m.pagerTop, max(len(lines)-rows, 0))
	end := min(top+rows, len(lines))
	title := fmt.Sprintf("output of %s (%s) · lines %d–%d of %d", cleanLine(s.name), s.state, min(top+1, end), end, len(lines))
	if len(lines) == 0 {
		title = fmt.Sprintf("output of %s (%s): none", cleanLine(s.name), s.state)
	}
	out := []string{styleTitle.Render(title)}
	for _, l := range lines[top:end] {
		out = append(out, " "+l)
	}
	return out
}
