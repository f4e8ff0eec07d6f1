package telemetry

import (
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/voidbox/voidbox/internal/event"
)

// maxLine bounds one exported output line; a longer one is cut.
const maxLine = 16 << 10

// output exports a chunk of stage output as log records, one per whole
// line (a partial line waits for the rest, or the attempt's end).
func (r *Run) output(s *stageSpans, e event.Event, d event.ExecOutput) {
	if r.logger == nil {
		return
	}
	if s.lines == nil {
		s.lines = map[string]string{}
	}
	text := s.lines[d.Stream] + d.Data
	for {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			break
		}
		r.logLine(s, e.Stage, e.Attempt, d.Stream, text[:i], e.Time)
		text = text[i+1:]
	}
	if len(text) > maxLine {
		r.logLine(s, e.Stage, e.Attempt, d.Stream, text, e.Time)
		text = ""
	}
	s.lines[d.Stream] = text
}

// flushLines exports the partial lines left at an attempt's end.
func (r *Run) flushLines(s *stageSpans, at time.Time) {
	for stream, text := range s.lines {
		if text != "" {
			r.logLine(s, "", 0, stream, text, at)
		}
	}
	s.lines = nil
}

func (r *Run) logLine(s *stageSpans, stage string, attempt int, stream, line string, at time.Time) {
	if r.logger == nil {
		return
	}
	var rec otellog.Record
	rec.SetTimestamp(at)
	rec.SetBody(attribute.StringValue(event.Truncate(line, maxLine)))
	sev := otellog.SeverityInfo
	if stream == "stderr" {
		sev = otellog.SeverityWarn
	}
	rec.SetSeverity(sev)
	rec.SetSeverityText(sev.String())
	attrs := []attribute.KeyValue{attribute.String("voidbox.stream", stream)}
	if stage != "" {
		attrs = append(attrs, attribute.String("voidbox.stage.name", stage), attribute.Int("voidbox.stage.attempt", attempt))
	}
	rec.AddAttributes(attrs...)
	r.logger.Emit(trace.ContextWithSpan(r.execCtxOf(s), trace.SpanFromContext(r.execCtxOf(s))), rec)
}

// logEvent exports an engine event worth a log line (a retry, a failure).
func (r *Run) logEvent(s *stageSpans, e event.Event, sev otellog.Severity, msg string) {
	if r.logger == nil {
		return
	}
	var rec otellog.Record
	rec.SetTimestamp(e.Time)
	rec.SetBody(attribute.StringValue(event.Truncate(msg, maxLine)))
	rec.SetSeverity(sev)
	rec.SetSeverityText(sev.String())
	rec.AddAttributes(attribute.String("voidbox.event", string(e.Type())), attribute.String("voidbox.stage.name", e.Stage),
		attribute.Int("voidbox.stage.attempt", e.Attempt))
	r.logger.Emit(r.execCtxOf(s), rec)
}
