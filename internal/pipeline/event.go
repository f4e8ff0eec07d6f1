package pipeline

// The engine's event stream is made of internal/event's types: it emits
// the run and stage events (event.RunStarted, event.StageQueued, …) and
// attributes every event a runner sends through its emit function to the
// attempt that sent it. docs/events.md lists every type with its fields.
