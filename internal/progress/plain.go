package progress

import (
	"fmt"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/plural"
)

// printPlain appends the line(s) for ev. Lines depend only on the events, so
// the same stream always prints the same text. Precondition: mu is held and
// apply(ev) has run.
func (r *Renderer) printPlain(ev event.Event) {
	ts := ev.Time.Format("15:04:05")
	line := func(format string, args ...any) {
		r.write(fmt.Appendf(nil, "%s "+format+"\n", append([]any{ts}, args...)...))
	}
	name := clean(ev.Stage)
	st := r.byName[ev.Stage]
	ms := func(n int64) string { return formatDuration(time.Duration(n) * time.Millisecond) }
	switch d := ev.Data.(type) {
	case event.RunStarted:
		line("run %s started (%s)", clean(ev.Run), plural.Of(len(r.stages), "stage"))
	case event.RunFinished:
		line("run %s %s in %s", clean(ev.Run), clean(d.Status), ms(d.DurationMS))
	case event.StageQueued:
		line("stage %s queued", name)
	case event.StageStarted:
		line("stage %s started (attempt %d)", name, ev.Attempt)
	case event.StageRetrying:
		line("stage %s attempt %d failed: %s; retrying in %s", name, ev.Attempt, clean(d.Error), ms(d.DelayMS))
	case event.StageSucceeded:
		r.printPartial(ts, st)
		line("stage %s succeeded in %s (attempt %d, %s output)", name, formatDuration(st.elapsed(ev.Time)),
			ev.Attempt, formatBytes(int64(d.OutputBytes)))
	case event.StageFailed:
		r.printPartial(ts, st)
		line("stage %s failed in %s (attempt %d): %s", name, formatDuration(st.elapsed(ev.Time)),
			ev.Attempt, clean(d.Error))
		if !r.opts.ShowOutput { // else it was printed as it came
			for _, l := range d.StderrTail {
				line("%s %s", outputPrefix(ev.Stage, "stderr"), clean(l))
			}
		}
	case event.ServiceReady:
		line("service %s ready in %s (%s output)", name, ms(d.ReadyMS), formatBytes(int64(d.OutputBytes)))
	case event.ServiceStopped:
		line("service %s %s after %s up", name, clean(d.Reason), ms(d.UptimeMS))
	case event.StageSkipped:
		line("stage %s skipped: %s", name, clean(d.Reason))
	case event.StageCancelled:
		r.printPartial(ts, st)
		line("stage %s cancelled", name)
	case event.NetDenied:
		line("stage %s network denied %s: %s", name, clean(d.Target()), clean(d.Reason))
	case event.VMQueued:
		if !st.queuedShown {
			st.queuedShown = true
			line("stage %s %s", name, QueueText(d))
		}
	case event.VMAdmitted:
		st.queuedShown = false
		line("stage %s admitted after %s", name, ms(d.WaitMS))
	case event.ExecOutput:
		if !r.opts.ShowOutput {
			return
		}
		for _, l := range st.lines.feed(d.Stream, d.Data) {
			r.write(fmt.Appendf(nil, "%s %s %s\n", ts, outputPrefix(ev.Stage, d.Stream), clean(l)))
		}
	}
}

// printPartial prints a stage's unterminated output before its end line.
func (r *Renderer) printPartial(ts string, st *stageState) {
	streams, lines := st.lines.flush()
	for i, l := range lines {
		r.write(fmt.Appendf(nil, "%s %s %s\n", ts, outputPrefix(st.name, streams[i]), clean(l)))
	}
}

// flushPartial prints every stage's unterminated output at Close.
// Precondition: mu is held.
func (r *Renderer) flushPartial() {
	for _, st := range r.stages {
		streams, lines := st.lines.flush()
		for i, l := range lines {
			text := outputPrefix(st.name, streams[i]) + " " + clean(l)
			if r.live {
				r.above = append(r.above, text)
			} else {
				r.write([]byte(text + "\n"))
			}
		}
	}
}

// outputPrefix labels an output line: "[build]" for stdout, "[build
// stderr]" for other streams.
func outputPrefix(stage, stream string) string {
	if stream == "stdout" || stream == "" {
		return "[" + clean(stage) + "]"
	}
	return "[" + clean(stage) + " " + clean(stream) + "]"
}
