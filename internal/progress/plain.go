package progress

import (
	"fmt"
	"time"

	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/plural"
)

// printPlain appends the line(s) for ev. Lines depend only on the events, so
// the same stream always prints the same text. Precondition: mu is held and
// apply(ev) has run.
func (r *Renderer) printPlain(ev pipeline.Event) {
	ts := ev.Time.Format("15:04:05")
	line := func(format string, args ...any) {
		r.write(fmt.Appendf(nil, "%s "+format+"\n", append([]any{ts}, args...)...))
	}
	name := clean(ev.Stage)
	st := r.byName[ev.Stage]
	switch ev.Type {
	case pipeline.EventRunStarted:
		line("run %s started (%s)", clean(ev.Run), plural.Of(len(r.stages), "stage"))
	case pipeline.EventRunFinished:
		line("run %s %s in %s", clean(ev.Run), clean(stringField(ev, "status")),
			formatDuration(time.Duration(intField(ev, "duration_ms"))*time.Millisecond))
	case pipeline.EventStageQueued:
		line("stage %s queued", name)
	case pipeline.EventStageStarted:
		line("stage %s started (attempt %d)", name, ev.Attempt)
	case pipeline.EventStageRetrying:
		line("stage %s attempt %d failed: %s; retrying in %s", name, ev.Attempt,
			clean(stringField(ev, "error")), formatDuration(time.Duration(intField(ev, "delay_ms"))*time.Millisecond))
	case pipeline.EventStageSucceeded:
		r.printPartial(ts, st)
		line("stage %s succeeded in %s (attempt %d, %s output)", name, formatDuration(st.elapsed(ev.Time)),
			ev.Attempt, formatBytes(intField(ev, "output_bytes")))
	case pipeline.EventStageFailed:
		r.printPartial(ts, st)
		line("stage %s failed in %s (attempt %d): %s", name, formatDuration(st.elapsed(ev.Time)),
			ev.Attempt, clean(stringField(ev, "error")))
	case pipeline.EventStageSkipped:
		line("stage %s skipped: %s", name, clean(stringField(ev, "reason")))
	case pipeline.EventStageCancelled:
		r.printPartial(ts, st)
		line("stage %s cancelled", name)
	case pipeline.EventExecOutput:
		if !r.opts.ShowOutput {
			return
		}
		stream := stringField(ev, "stream")
		for _, l := range st.lines.feed(stream, stringField(ev, "data")) {
			r.write(fmt.Appendf(nil, "%s %s %s\n", ts, outputPrefix(ev.Stage, stream), clean(l)))
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
