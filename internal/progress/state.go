package progress

import (
	"time"

	"github.com/voidbox/voidbox/internal/event"

	"github.com/voidbox/voidbox/internal/pipeline"
)

// Stage states shown before a stage finishes; finished stages show their
// pipeline.Status.
const (
	statePending  = "pending"
	stateQueued   = "queued"
	stateRunning  = "running"
	stateRetrying = "retrying"
	stateServing  = "serving" // a ready service
)

// apply updates the model from ev. Precondition: mu is held.
func (r *Renderer) apply(ev event.Event) {
	switch d := ev.Data.(type) {
	case event.RunStarted:
		r.run, r.start = ev.Run, ev.Time
		for _, name := range d.Stages {
			r.stage(name)
		}
		return
	case event.RunFinished:
		r.done = true
		return
	}
	if ev.Stage == "" {
		return
	}
	st := r.stage(ev.Stage)
	switch d := ev.Data.(type) {
	case event.VMQueued:
		st.state, st.detail = stateWaiting, QueueText(d)
		return
	case event.VMAdmitted:
		if st.state == stateWaiting {
			st.state, st.detail = stateRunning, ""
		}
		return
	}
	st.detail = ""
	switch ev.Data.(type) {
	case event.StageQueued:
		st.state = stateQueued
	case event.StageStarted:
		st.state, st.attempt = stateRunning, ev.Attempt
		if st.started.IsZero() {
			st.started = ev.Time
		}
	case event.StageRetrying:
		st.state = stateRetrying
	case event.ServiceReady:
		st.state = stateServing
	case event.StageSucceeded:
		st.state, st.ended = string(pipeline.StatusSucceeded), ev.Time
	case event.StageFailed:
		st.state, st.ended = string(pipeline.StatusFailed), ev.Time
	case event.StageSkipped:
		st.state, st.ended = string(pipeline.StatusSkipped), ev.Time
	case event.StageCancelled:
		st.state, st.ended = string(pipeline.StatusCancelled), ev.Time
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
