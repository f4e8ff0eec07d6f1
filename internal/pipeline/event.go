package pipeline

import (
	"strings"
	"time"
)

// Event types the engine emits. Runners add their own (exec.output,
// agent.turn, llm.request, ...) through the emit function they are given.
// docs/events.md lists every type with its fields.
const (
	EventRunStarted     = "run.started"
	EventRunFinished    = "run.finished"
	EventStageQueued    = "stage.queued"
	EventStageStarted   = "stage.started"
	EventStageRetrying  = "stage.retrying"
	EventStageSucceeded = "stage.succeeded"
	EventStageFailed    = "stage.failed"
	EventStageSkipped   = "stage.skipped"
	EventStageCancelled = "stage.cancelled"
	// EventExecOutput is the conventional runner event for a chunk of a
	// stage's stdout or stderr; build it with ExecOutput.
	EventExecOutput = "exec.output"
)

// Event is one entry of a run's event stream. Field names in JSON are
// stable; Fields holds the type-specific values (docs/events.md).
type Event struct {
	Time    time.Time      `json:"time"`
	Type    string         `json:"type"`
	Run     string         `json:"run"`
	Stage   string         `json:"stage,omitempty"`
	Attempt int            `json:"attempt,omitempty"`
	Fields  map[string]any `json:"fields,omitempty"`
}

// Sink receives a run's events. Emit is called from several goroutines at
// once (one per running stage, plus the scheduler) and must not block for
// long: a slow sink slows the stages that emit.
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

// discard is the sink used when Options.Sink is nil.
type discard struct{}

func (discard) Emit(Event) {}

// ExecOutput builds an exec.output event for a chunk of a stage's output.
// Stream is "stdout" or "stderr". Data is carried as a string so the JSON
// stays readable; bytes that are not valid UTF-8 become U+FFFD, which is
// fine for a live view (the stage's real output travels in Output.Data).
func ExecOutput(stream string, data []byte) Event {
	return Event{Type: EventExecOutput, Fields: map[string]any{
		"stream": stream,
		"data":   strings.ToValidUTF8(string(data), "\uFFFD"),
	}}
}
