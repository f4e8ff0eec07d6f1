package store

import (
	"encoding/json"
	"time"
)

// finishedType is the type of a stream's last event. Recovery appends one
// only if the stream does not end with one already: a run whose engine
// finished its stream, or whose recovery was cut short, gets no second.
const finishedType = "run.finished"

// finishedEvent is the run.finished event (docs/events.md) that
// RecoverAfterRestart appends for a run whose engine died: the stream's
// promise that run.finished comes last holds for recovered runs too.
func finishedEvent(r Run, reason string, at time.Time) Event {
	var dur int64
	if !r.Started.IsZero() {
		dur = at.Sub(r.Started).Milliseconds()
	}
	data, _ := json.Marshal(map[string]any{
		"time": at,
		"type": finishedType,
		"run":  r.Name,
		"fields": map[string]any{
			"status":      string(RunFailed),
			"duration_ms": dur,
			"error":       reason,
		},
	})
	return Event{Type: finishedType, Time: at, Data: data}
}

// recoverStage is the state an unfinished stage of a recovered run gets.
func recoverStage(s Stage, reason string, at time.Time) (Stage, bool) {
	if s.Status.Terminal() {
		return s, false
	}
	s.Status, s.Error, s.Ended = StageFailed, reason, at
	return s, true
}
