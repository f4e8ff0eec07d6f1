package progress

import (
	"time"

	"github.com/voidbox/voidbox/internal/pipeline"
)

// Stage states shown before a stage finishes; finished stages show their
// pipeline.Status.
const (
	statePending  = "pending"
	stateQueued   = "queued"
	stateRunning  = "running"
	stateRetrying = "retrying"
)

// apply updates the model from ev. Precondition: mu is held.
func (r *Renderer) apply(ev pipeline.Event) {
	switch ev.Type {
	case pipeline.EventRunStarted:
		r.run, r.start = ev.Run, ev.Time
		for _, name := range stringsField(ev, "stages") {
			r.stage(name)
		}
		return
	case pipeline.EventRunFinished:
		r.done = true
		return
	}
	if ev.Stage == "" {
		return
	}
	st := r.stage(ev.Stage)
	switch ev.Type {
	case pipeline.EventStageQueued:
		st.state = stateQueued
	case pipeline.EventStageStarted:
		st.state, st.attempt = stateRunning, ev.Attempt
		if st.started.IsZero() {
			st.started = ev.Time
		}
	case pipeline.EventStageRetrying:
		st.state = stateRetrying
	case pipeline.EventStageSucceeded, pipeline.EventStageFailed,
		pipeline.EventStageSkipped, pipeline.EventStageCancelled:
		st.state, st.ended = finalState(ev.Type), ev.Time
	}
}

// stage returns the named stage, adding it if this is its first event.
func (r *Renderer) stage(name string) *stageState {
	if st, ok := r.byName[name]; ok {
		return st
	}
	st := &stageState{name: name, state: statePending}
	r.byName[name] = st
	r.stages = append(r.stages, st)
	return st
}

func finalState(eventType string) string {
	switch eventType {
	case pipeline.EventStageSucceeded:
		return string(pipeline.StatusSucceeded)
	case pipeline.EventStageFailed:
		return string(pipeline.StatusFailed)
	case pipeline.EventStageSkipped:
		return string(pipeline.StatusSkipped)
	}
	return string(pipeline.StatusCancelled)
}

// elapsed is how long the stage has run, at now if it has not finished.
func (st *stageState) elapsed(now time.Time) time.Duration {
	switch {
	case st.started.IsZero():
		return 0
	case !st.ended.IsZero():
		return st.ended.Sub(st.started)
	}
	return now.Sub(st.started)
}

// stringsField reads a []string field, as sent in-process or decoded from
// JSON ([]any).
func stringsField(ev pipeline.Event, key string) []string {
	switch v := ev.Fields[key].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// intField reads a number field, as sent in-process or decoded from JSON.
func intField(ev pipeline.Event, key string) int64 {
	switch v := ev.Fields[key].(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return 0
}

func stringField(ev pipeline.Event, key string) string {
	s, _ := ev.Fields[key].(string)
	return s
}
