// Package event defines every event a voidbox run produces — engine, VM,
// command, agent, model and (later) network events — as typed Go values,
// with one JSON encoding used only at the edges: `voidbox run --events`,
// the built-in agent's line protocol, the daemon's streams and OTLP.
//
// It depends on the standard library only: the built-in agent (in the
// guest) writes agent events with it and the host reads them back. Every
// event that arrives from a guest is untrusted: Decode caps sizes and
// rejects unknown types instead of guessing.
package event

import "time"

// Type names an event. The strings are part of the stable JSON contract
// (docs/events.md): add types, never rename them.
type Type string

// Event is one entry of a run's event stream: when, where (run, stage,
// attempt) and what (Data, one of the payload types of this package).
type Event struct {
	Time    time.Time
	Run     string
	Stage   string // "" for run events
	Attempt int    // 0 when the event belongs to no attempt
	Data    Data
}

// Type is the event's type, from its payload.
func (e Event) Type() Type {
	if e.Data == nil {
		return ""
	}
	return e.Data.EventType()
}

// Data is an event's payload: one of the structs of this package.
type Data interface {
	EventType() Type
}

// Sink receives events. Emit is called from several goroutines at once
// (one per running stage, plus the scheduler) and must not block for long.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }

// Sinks fans every event out to each sink in order.
type Sinks []Sink

// Emit passes e to every sink.
func (s Sinks) Emit(e Event) {
	for _, sink := range s {
		sink.Emit(e)
	}
}

// Discard is a Sink that drops every event.
var Discard Sink = SinkFunc(func(Event) {})
