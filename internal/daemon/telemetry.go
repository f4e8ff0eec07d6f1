package daemon

import (
	"context"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/spec"
)

// RunTelemetry exports one run's telemetry from its events. Close flushes
// it; an export failure is the exporter's to log, never the run's.
type RunTelemetry interface {
	event.Sink
	Close()
}

// TelemetryFunc starts the export of one run (configured by its spec's
// observe block and the daemon's environment). A nil RunTelemetry means
// nothing is exported.
type TelemetryFunc func(ctx context.Context, s *spec.Spec, runID string) (RunTelemetry, error)

// startTelemetry starts a run's export; a failure to start is logged and
// the run goes on without it.
func (d *Daemon) startTelemetry(ctx context.Context, a *active) RunTelemetry {
	if d.cfg.Telemetry == nil {
		return nil
	}
	t, err := d.cfg.Telemetry(ctx, a.sub.spec, a.id)
	if err != nil {
		d.log.Warn("telemetry off for this run", "run", a.id, "err", err)
		return nil
	}
	return t
}
