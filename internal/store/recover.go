package store

import (
	"encoding/json"
	"time"
)

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
		"type": "run.finished",
		"run":  r.Name,
		"fields": map[string]any{
			"status":      string(RunFailed),
			"duration_ms": dur,
			"error":       reason,
		},
	})
	return Event{Type: "run.finished", Time: at, Data: data}
}

// recoverStage is the state an unfinished stage of a recovered run gets.
func recoverStage(s Stage, reason string, at time.Time) (Stage, bool) {
	if s.Status.Terminal() {
		return s, false
	}
	s.Status, s.Error, s.Ended = StageFailed, reason, at
	return s, true
}
