package progress

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/plural"
)

// ANSI sequences (ECMA-48): cursor up n lines, carriage return, erase from
// the cursor to the end of the screen.
const (
	csiUp      = "\x1b[%dA"
	eraseBelow = "\r\x1b[J"
)

// collectOutput queues completed output lines of ev to be printed above the
// block. Precondition: mu is held and apply(ev) has run.
func (r *Renderer) collectOutput(ev event.Event) {
	if ev.Stage == "" {
		return
	}
	if !r.opts.ShowOutput {
		// Output was not shown as it came: a failed stage still says why.
		if d, ok := ev.Data.(event.StageFailed); ok {
			for _, l := range d.StderrTail {
				r.above = append(r.above, outputPrefix(ev.Stage, "stderr")+" "+clean(l))
			}
		}
		return
	}
	st := r.byName[ev.Stage]
	switch d := ev.Data.(type) {
	case event.ExecOutput:
		for _, l := range st.lines.feed(d.Stream, d.Data) {
			r.above = append(r.above, outputPrefix(ev.Stage, d.Stream)+" "+clean(l))
		}
	case event.StageSucceeded, event.StageFailed, event.StageCancelled:
		streams, lines := st.lines.flush()
		for i, l := range lines {
			r.above = append(r.above, outputPrefix(ev.Stage, streams[i])+" "+clean(l))
		}
	}
}

// redraw moves the cursor to the top of the block, prints pending output
// lines (they scroll away above the block) and draws the block again, all in
// one write. Precondition: mu is held.
func (r *Renderer) redraw() {
	if r.run == "" && len(r.stages) == 0 && len(r.above) == 0 {
		return // nothing to show before the first event
	}
	var b bytes.Buffer
	if r.drawn > 0 {
		fmt.Fprintf(&b, csiUp, r.drawn)
	}
	b.WriteString(eraseBelow)
	for _, l := range r.above {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	r.above = r.above[:0]
	lines := r.block(r.opts.Now())
	for _, l := range lines {
		b.WriteString(truncate(l, r.opts.Width-1))
		b.WriteByte('\n')
	}
	r.drawn = len(lines)
	r.write(b.Bytes())
}

// block renders one header line and one line per stage.
func (r *Renderer) block(now time.Time) []string {
	finished := 0
	nameWidth := 0
	for _, st := range r.stages {
		nameWidth = max(nameWidth, utf8.RuneCountInString(clean(st.name)))
		if !st.ended.IsZero() {
			finished++
		}
	}
	var total time.Duration
	if !r.start.IsZero() {
		total = now.Sub(r.start)
	}
	head := fmt.Sprintf("run %s: %d/%s done, %s", clean(r.run), finished, plural.Of(len(r.stages), "stage"), formatDuration(total))
	if r.done {
		head = fmt.Sprintf("run %s: finished, %d/%s done", clean(r.run), finished, plural.Of(len(r.stages), "stage"))
	}
	lines := []string{head}
	for _, st := range r.stages {
		attempt, elapsed := "", ""
		if st.attempt > 0 {
			attempt = fmt.Sprintf("attempt %d", st.attempt)
			elapsed = formatDuration(st.elapsed(now))
		}
		line := fmt.Sprintf("  %-*s  %-9s  %-10s  %s", nameWidth, clean(st.name), st.state, attempt, elapsed)
		if st.detail != "" {
			line = fmt.Sprintf("%-*s  %s", nameWidth+36, line, st.detail)
		}
		lines = append(lines, strings.TrimRight(line, " "))
	}
	return lines
}

// truncate cuts s to at most n runes so the line cannot wrap.
func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n])
}
